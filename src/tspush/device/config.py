"""The board's settings: ``/config.json``, checked key by key.

Every key is listed once in ``DEFAULTS`` with its default; an error names
the key and says what to write instead. ``tspush deploy`` writes this file
from the computer's config; the provisioning page updates Wi-Fi, URL and
token in it (and nothing else).
"""

from tspush.core.errors import ConfigError

PATH = "config.json"  # relative: the board's working directory is "/"

DEFAULTS = {
    "ssid": "",  # Wi-Fi network; "" uses the credentials the radio saved last time
    "password": "",
    "hostname": "",  # "" gives tspush-<chip id>
    "wifi_timeout_s": 120,  # the original polled 240 x 0.5 s
    "wifi_every": 1,  # join Wi-Fi (and push) every N samples
    "provision": True,  # start the access-point page when joining fails
    "provision_timeout_s": 300,
    "ap_password": "",  # WPA2 password of the setup page's access point; "" makes one
    "url": "",  # https://host/api/put, or http://<tspush serve on the LAN>:port
    "token": "",
    "auth": "basic",  # basic | bearer | token | none
    "user": "DESC",  # Basic auth user; the original's placeholder
    "tls_verify": "ca",  # ca | pin | none
    "tls_ca": "ca.der",  # CA certificate file on the board (DER or PEM)
    "fingerprint": "",  # SHA-256 or SHA-1 pin(s) of the server certificate; list or string
    "tls_min_free_bytes": 0,  # heap needed before TLS; 0: 20000 on ESP8266, else none
    "interval_s": 10,
    "max_points": 50,
    "max_bytes": 8192,
    "tags": {},
    "sensors": [{"type": "constant", "metric": "universe", "value": 42}],
    "queue_max": 200,  # points held in RAM before the oldest is dropped
    "spool_dir": "spool",  # "" keeps points in RAM only
    "spool_max_bytes": 65536,
    "spool_segment_bytes": 4096,
    "ntp_host": "pool.ntp.org",
    "ntp_every_s": 3600,
    "deep_sleep": False,  # sleep between cycles (ESP8266: GPIO16 wired to RST)
    "watchdog_s": 60,  # 0 turns the watchdog off
    "timeout_s": 10,
    "boot_delay_s": 3,  # Ctrl-C window before the app starts
    "cycles": 0,  # stop after N cycles (0: forever); for tests and one-shot runs
    # Written true by tspush deploy, which checked the file and filled in every key: the
    # board then reads the JSON as it is and never imports this module (about 30 names
    # and their RAM less on an ESP8266). A change of url on the board clears it.
    "complete": False,
}

_CHOICES = {
    "auth": ("basic", "bearer", "token", "none"),
    "tls_verify": ("ca", "pin", "none"),
}


def _type_ok(default, value):
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if isinstance(default, str):
        return isinstance(value, str)
    if isinstance(default, dict):
        return isinstance(value, dict)
    if isinstance(default, list):
        return isinstance(value, list)
    return True


def check(raw, source=PATH):
    """The settings with defaults filled in; ConfigError naming the first bad key."""
    if not isinstance(raw, dict):
        raise ConfigError("must be a JSON object {...}", "", source)
    cfg = _copy(DEFAULTS)
    for key in raw:
        if key not in DEFAULTS:
            raise ConfigError(
                "unknown key: check its spelling (known keys are listed in docs/hardware.md)",
                key,
                source,
            )
        value = raw[key]
        default = DEFAULTS[key]
        if key == "fingerprint" and isinstance(value, list):
            pass
        elif key == "interval_s" and isinstance(value, float):
            pass
        elif not _type_ok(default, value):
            raise ConfigError(
                "%r has the wrong type: write a %s like %r" % (value, _type_name(default), default),
                key,
                source,
            )
        cfg[key] = value
    for key in _CHOICES:
        if cfg[key] not in _CHOICES[key]:
            raise ConfigError(
                "%r: use one of %s" % (cfg[key], ", ".join(_CHOICES[key])), key, source
            )
    url = cfg["url"]
    if not url:
        raise ConfigError(
            "missing: give the server, e.g. https://metrics.example/api/put", "url", source
        )
    if not (url.startswith("http://") or url.startswith("https://")):
        raise ConfigError("%r must start with http:// or https://" % url, "url", source)
    if cfg["interval_s"] <= 0:
        raise ConfigError("must be above 0 seconds", "interval_s", source)
    if cfg["wifi_every"] < 1:
        raise ConfigError("must be 1 or more", "wifi_every", source)
    if cfg["tls_verify"] == "pin" and not cfg["fingerprint"]:
        raise ConfigError(
            "tls_verify is 'pin' but no fingerprint is set: run 'tspush fingerprint HOST'",
            "fingerprint",
            source,
        )
    tags = raw.get("tags") or {}
    for tag in tags:
        if not isinstance(tags[tag], str):
            raise ConfigError("tag values must be strings", "tags." + tag, source)
    specs = raw.get("sensors") or []
    for i in range(len(specs)):
        spec = specs[i]
        if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
            raise ConfigError(
                'each sensor is an object with a "type", e.g. {"type": "dht", "pin": 4}',
                "sensors[%d]" % i,
                source,
            )
    return cfg


def _copy(d):
    return dict(d)


def _type_name(default):
    if isinstance(default, bool):
        return "true/false"
    if isinstance(default, int):
        return "whole number >= 0"
    if isinstance(default, str):
        return "string"
    if isinstance(default, dict):
        return "JSON object"
    return "JSON list"


def load(path=PATH):
    """Read and check ``path``; ConfigError (with the file name) when missing or wrong."""
    import json

    try:
        f = open(path)
    except OSError:
        raise ConfigError(
            "not found: write it with 'tspush deploy --port PORT' or the Wi-Fi setup page",
            "",
            path,
        )
    try:
        text = f.read()
    finally:
        f.close()
    try:
        raw = json.loads(text)
    except ValueError as e:
        raise ConfigError("is not valid JSON (%s): check commas and quotes" % e, "", path)
    return check(raw, path)


def update(path, changes):
    """Merge ``changes`` into the JSON at ``path`` (created if missing), atomically."""
    import json
    import os

    raw = {}
    try:
        f = open(path)
        try:
            raw = json.loads(f.read())
        finally:
            f.close()
    except (OSError, ValueError):
        raw = {}
    if not isinstance(raw, dict):
        raw = {}
    for k in changes:
        raw[k] = changes[k]
    if "url" in changes:  # no longer what deploy checked: the next boot checks it again
        raw.pop("complete", None)
    tmp = path + ".tmp"
    f = open(tmp, "w")
    try:
        f.write(json.dumps(raw))
    finally:
        f.close()
    try:
        os.rename(tmp, path)
    except OSError:  # FAT will not rename over an existing file
        os.remove(path)
        os.rename(tmp, path)
    return raw
