"""The board's config.json: defaults, and errors that name the key."""

import shimpath  # noqa: F401  (first: the hardware shims)

# isort: split


from mpcompat import raises
from tspush.core.errors import ConfigError
from tspush.device import config

GOOD = {"url": "https://metrics.example/api/put", "token": "t0k"}


def _tmp(name):
    import os

    d = "/tmp/tspush-devtest"
    try:
        os.mkdir(d)
    except OSError:
        pass
    return d + "/" + name


def write(path, text):
    f = open(path, "w")
    f.write(text)
    f.close()


def test_defaults_are_filled_in():
    cfg = config.check(GOOD)
    assert cfg["interval_s"] == 10
    assert cfg["sensors"] == [{"type": "constant", "metric": "universe", "value": 42}]
    assert cfg["tls_verify"] == "ca"


def test_errors_name_the_key():
    cases = [
        ({"token": "x"}, "url"),
        ({"url": "ftp://x"}, "url"),
        (dict(GOOD, interval_s="10"), "interval_s"),
        (dict(GOOD, interval_s=0), "interval_s"),
        (dict(GOOD, deep_sleep=1), "deep_sleep"),
        (dict(GOOD, tls_verify="maybe"), "tls_verify"),
        (dict(GOOD, tls_verify="pin"), "fingerprint"),
        (dict(GOOD, sensors=[{"pin": 4}]), "sensors[0]"),
        (dict(GOOD, tags={"room": 3}), "tags.room"),
        (dict(GOOD, intervall_s=5), "intervall_s"),
    ]
    for raw, key in cases:
        e = raises(ConfigError, config.check, raw, "config.json")
        assert e.key == key, (key, str(e))
        assert ("config.json: " + key + ": ") in str(e), str(e)


def test_load_missing_and_broken_files():
    e = raises(ConfigError, config.load, _tmp("absent.json"))
    assert "tspush deploy" in str(e)
    path = _tmp("broken.json")
    write(path, '{"url": "https://x/api/put"')
    e = raises(ConfigError, config.load, path)
    assert "not valid JSON" in str(e) and path in str(e)


def test_update_merges_and_keeps_other_keys():
    import json

    path = _tmp("merge.json")
    write(path, json.dumps(dict(GOOD, ssid="old", interval_s=30)))
    config.update(path, {"ssid": "new", "password": "pw"})
    cfg = config.load(path)
    assert cfg["ssid"] == "new" and cfg["password"] == "pw"
    assert cfg["interval_s"] == 30 and cfg["token"] == "t0k"


def test_a_complete_file_is_read_as_it_is_and_a_url_change_clears_the_mark():
    import json

    from tspush.device.app import _complete

    path = _tmp("complete.json")
    full = config.check(GOOD)
    full["complete"] = True
    full["interval_s"] = 7
    write(path, json.dumps(full))
    assert _complete(path) == full  # as deploy wrote it: no check, no defaults module
    write(path, json.dumps(dict(GOOD, interval_s=7)))  # hand-written: checked at boot
    assert _complete(path) is None
    write(path, json.dumps(full))
    assert config.update(path, {"ap_password": "pw"})["complete"] is True
    raw = config.update(path, {"url": "http://10.0.0.2:4242/api/put"})
    assert "complete" not in raw and _complete(path) is None
    assert config.load(path)["url"] == "http://10.0.0.2:4242/api/put"
    write(path, "{not json")
    assert _complete(path) is None
    assert raises(ConfigError, config.load, path).key == ""
