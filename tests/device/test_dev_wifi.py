"""Joining Wi-Fi with the network shim: dots, IP line, WPS only when offered, re-join."""

import shimpath  # noqa: F401  (first: the hardware shims)

# isort: split

import network

from tspush.device import config
from tspush.device.log import Log
from tspush.device.wifi import Wifi


class Capture:
    def __init__(self):
        self.text = ""

    def __call__(self, s="", end="\n"):
        self.text += s + end


def make(**cfg):
    out = Capture()
    c = config.check(
        dict(
            {"url": "http://10.0.0.2:8080/api/put", "wifi_timeout_s": 3, "provision": False}, **cfg
        )
    )
    return Wifi(c, Log([], out), network), out


def test_joins_with_dots_and_hostname_and_ap_off():
    network.reset(polls_to_join=3)
    ap = network.WLAN(network.AP_IF)
    assert ap.active()  # a fresh ESP8266's open access point
    w, out = make(ssid="home", password="pw", hostname="kitchen")
    assert w.join()
    assert "..\nIP address: 127.0.0.1\n" in out.text
    assert network.state["hostname"] == "kitchen"
    assert not ap.active()
    assert network.state["connects"] == ["home"]


def test_default_hostname_from_chip_id():
    network.reset()
    w, _ = make()
    assert w.hostname == "tspush-abcdef"


def test_saved_credentials_used_when_no_ssid():
    network.reset(saved=("attic", "x"))
    w, out = make()
    assert w.join()
    assert network.state["connects"] == ["attic"]


def test_wrong_password_named_and_no_wps_on_this_port():
    network.reset(password="right")
    w, out = make(ssid="home", password="wrong")
    assert not w.join()
    assert "Wi-Fi: failed: wrong password" in out.text
    assert "no WPS" in out.text


def test_wps_used_where_the_port_offers_it():
    network.reset(password="wpspw", wps=True)
    w, out = make(ssid="home", password="wrong")
    assert w.join()
    assert "WPS" in out.text
    assert network.state["connects"] == ["home", "wpsnet"]


def test_rejoins_after_the_link_drops():
    network.reset()
    w, out = make(ssid="home")
    assert w.join()
    network.state["drop"] = True
    assert w.ensure()
    assert "link lost; re-joining" in out.text
    assert w.drops == 1
    assert network.state["connects"] == ["home", "home"]
