"""The app's cycle with the shims: timestamps before NTP, deep sleep, watchdog, Wi-Fi drops."""

import shimpath  # noqa: F401  (first: the hardware shims)

# isort: split

import json

import machine
import network
import ntptime

from tspush.core.http import Response
from tspush.device import config
from tspush.device.app import App
from tspush.device.clock import Clock
from tspush.device.log import Log


class Out:
    def __init__(self):
        self.text = ""

    def __call__(self, s="", end="\n"):
        self.text += s + end


class FakeConn:
    host = "10.0.0.2"
    sent_bytes = 0

    def __init__(self):
        self.bodies = []

    def request(self, method, path, body, headers, body_len=None):
        self.bodies.append(b"".join(body) if not isinstance(body, bytes) else body)
        return Response(204, "No Content", {}, b"", False)

    def close(self):
        pass


class FakeTime:
    def __init__(self, t):
        self.t = t

    def __call__(self):
        return self.t


def make_app(**cfg):
    network.reset()
    machine.reset_state()
    ntptime.state["fail"] = False
    base = {
        "url": "http://10.0.0.2:4242/api/put",
        "spool_dir": "",
        "interval_s": 1,
        "watchdog_s": 0,
        "wifi_timeout_s": 2,
        "provision": False,
    }
    base.update(cfg)
    out = Out()
    app = App(config.check(base), Log([], out), network, ntptime, machine)
    app.setup()
    conn = FakeConn()
    app.pusher.conn = conn
    return app, conn, out


def test_never_synced_sends_without_timestamp_and_says_so():
    app, conn, out = make_app()
    app.clock = Clock(ntptime, "pool.ntp.org", 3600, time_fn=FakeTime(100), offset_s=0)
    ntptime.state["fail"] = True
    try:
        app.run_cycle()
    finally:
        ntptime.state["fail"] = False
    assert "time: never synced: sending readings without timestamps" in out.text
    assert json.loads(conn.bodies[0]) == [{"metric": "universe", "value": 42, "tags": {}}]


def test_readings_before_sync_get_their_time_once_ntp_answers():
    app, conn, out = make_app(wifi_every=2)
    t = FakeTime(100)  # not set yet
    app.clock = Clock(ntptime, "pool.ntp.org", 3600, time_fn=t, offset_s=0)
    app.run_cycle()  # sample only: Wi-Fi and push every 2 samples
    assert conn.bodies == [] and app.buffer.points[0].ts is None
    t.t = 1790000000  # what settime() will have set
    app.run_cycle()
    body = json.loads(conn.bodies[0])
    assert [p["timestamp"] for p in body] == [1790000000, 1790000000], body
    assert "time: stamped 1 reading(s) taken before the clock was set" in out.text


def test_deep_sleep_keeps_state_and_readings():
    import os

    d = "/tmp/tspush-devtest/deepsleep"
    try:
        for f in os.listdir(d):
            os.remove(d + "/" + f)
    except OSError:
        pass
    app, conn, out = make_app(deep_sleep=True, interval_s=600, wifi_every=3, spool_dir=d)
    app.run_cycle()
    try:
        app.sleep()
        raise AssertionError("deepsleep did not happen")
    except SystemExit:
        pass
    assert machine.state["deepsleep"] == [600000]
    assert json.loads(machine.state["rtc"]) == {"cycle": 1}
    assert app.buffer.spool.pending("board") == 1  # on flash, for the next wake
    assert "sleep: deep sleep 600 s" in out.text


def test_watchdog_started_and_fed():
    app, conn, out = make_app(watchdog_s=30)
    app.run_cycle()
    app.sleep()
    assert machine.state["wdt"][0] == ("start", 30000)
    assert machine.state["wdt"].count("feed") >= 2
    assert "watchdog: 30 s" in out.text


def test_wifi_drop_is_repaired_and_a_failing_sensor_is_skipped():
    app, conn, out = make_app(sensors=[{"type": "constant"}, {"type": "analog", "pin": 7}])
    app.run_cycle()
    network.state["drop"] = True
    app.run_cycle()
    assert "Wi-Fi: link lost; re-joining" in out.text
    assert out.text.count("sensor: skipped this cycle: analog pin 7: cannot read") == 2
    assert len(conn.bodies) == 2


def test_tls_mode_is_stated_and_esp8266_cannot_verify():
    from mpcompat import raises
    from tspush.core.errors import ConfigError
    from tspush.device.app import tls_options

    out = Out()
    cfg = config.check({"url": "https://db.example/api/put"})
    e = raises(ConfigError, tls_options, cfg, Log([], out), "esp8266")
    assert e.key == "tls_verify" and "relay" in str(e)
    insecure = config.check({"url": "https://db.example/api/put", "tls_verify": "none"})
    assert tls_options(insecure, Log([], out), "esp8266") == {"insecure": True}
    assert "warning: TLS: the server's certificate is NOT verified" in out.text
    e = raises(
        ConfigError,
        tls_options,
        config.check({"url": "https://x/api/put", "tls_ca": "/nonexistent.der"}),
        Log([], out),
        "esp32",
    )
    assert e.key == "tls_ca"


def test_radio_off_between_pushes_when_joining_every_n_samples():
    app, conn, out = make_app(wifi_every=2)
    app.run_cycle()
    app.run_cycle()
    assert len(conn.bodies) == 1
    assert not network.WLAN(network.STA_IF).active()
    app.run_cycle()
    app.run_cycle()
    assert len(conn.bodies) == 2
    assert network.state["connects"] == ["home", "home"]
    assert "link lost" not in out.text
