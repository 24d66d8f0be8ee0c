"""The board's TLS mode from its config: CA, pins or insecure, said in the log.

Loaded only for an ``https://`` URL: the ESP8266's relay client over plain
HTTP never interns these names (each costs heap there, see
docs/benchmarks.md).
"""

from tspush.core.errors import ConfigError
from tspush.device import ticks

try:
    from micropython import const  # a private const name is not interned (RAM)
except ImportError:  # CPython
    const = int

_AXTLS_MIN_FREE = const(20000)


def read_ca(path):
    """The CA certificate(s) in ``path`` (DER, or PEM converted to DER): a list of DER."""
    import binascii

    f = open(path, "rb")
    try:
        data = f.read()
    finally:
        f.close()
    if not data.startswith(b"-----BEGIN"):
        return [data]
    out = []
    body = []
    inside = False
    for line in data.split(b"\n"):
        line = line.strip()
        if line.startswith(b"-----BEGIN CERTIFICATE"):
            inside = True
            body = []
        elif line.startswith(b"-----END CERTIFICATE"):
            inside = False
            out.append(binascii.a2b_base64(b"".join(body)))
        elif inside:
            body.append(line)
    if not out:
        raise ValueError("no CERTIFICATE block")
    return out


def tls_options(cfg, log, platform=None):
    """Connection keyword arguments for ``cfg``'s URL; says the TLS mode in the log."""
    from tspush.core.http import split_url

    platform = platform or ticks.port
    tls, host, _, _ = split_url(cfg["url"])
    if not tls:
        log.line("TLS: none: plain HTTP to %s (for a tspush serve relay on your LAN)" % host)
        return {}
    verify = cfg["tls_verify"]
    if verify == "none":
        log.warn(
            "TLS: the server's certificate is NOT verified (tls_verify=none): anyone on the "
            "path can read the token and the readings; use a CA or a relay"
        )
        return {"insecure": True}
    pins = []
    fps = cfg["fingerprint"]
    if fps:
        parse = ticks.need("tspush.core.fingerprint parse")
        for fp in fps if isinstance(fps, list) else [fps]:
            pins.append(parse(fp, "fingerprint"))
    if verify == "pin":
        log.line("TLS: server accepted only with the pinned certificate (%d pin(s))" % len(pins))
        return {"pins": pins}
    if platform == "esp8266":
        raise ConfigError(
            "the ESP8266's TLS (axTLS) cannot verify a certificate: push over http:// to a "
            "'tspush serve' relay on your LAN, or set tls_verify to none (insecure)",
            "tls_verify",
        )
    try:
        ca = read_ca(cfg["tls_ca"])
    except (OSError, ValueError) as e:
        raise ConfigError(
            "%s cannot be read (%s): copy the CA certificate there (tspush deploy does)"
            % (cfg["tls_ca"], e),
            "tls_ca",
        )
    extra = " and %d pin(s)" % len(pins) if pins else ""
    log.line("TLS: verify the server with CA %s%s" % (cfg["tls_ca"], extra))
    return {"ca_der": ca, "pins": pins}


def min_free(cfg):
    """axTLS (ESP8266) crashes the board when the heap runs out; mbedTLS raises MemoryError."""
    if cfg["tls_min_free_bytes"]:
        return cfg["tls_min_free_bytes"]
    return _AXTLS_MIN_FREE if ticks.port == "esp8266" else 0
