"""The Wi-Fi setup page: an access point ``tspush-XXXX`` serving a form at 192.168.4.1.

The form asks for the network name and password, the server URL and the
token; submitting it merges them into ``config.json`` (blank URL or token
keep what was there). Nothing is written when no one submits before the
timeout, so working credentials are never erased. The token is never
shown back on the page or in the log.
"""

from tspush.device import ticks

MAX_REQUEST_BYTES = 2048

PAGE = (
    "<!doctype html><meta name=viewport content='width=device-width'>"
    "<title>%s setup</title><h1>%s</h1>"
    "<form method=post action=/save>"
    "<p><label>Wi-Fi name <input name=ssid required></label>"
    "<p><label>Wi-Fi password <input name=password type=password></label>"
    "<p><label>Server URL <input name=url placeholder='%s'></label>"
    "<p><label>Token <input name=token type=password placeholder='unchanged if blank'></label>"
    "<p><button>Save and join</button></form>"
)
SAVED = "<!doctype html><p>Saved. The board now joins %s; this network goes away."


def unquote(text):
    """``application/x-www-form-urlencoded`` value to str."""
    b = text.replace("+", " ").encode()
    out = bytearray()
    i = 0
    n = len(b)
    while i < n:
        c = b[i]
        if c == 37 and i + 2 < n:  # '%XY'
            try:
                out.append(int(b[i + 1 : i + 3], 16))
                i += 3
                continue
            except ValueError:
                pass
        out.append(c)
        i += 1
    return bytes(out).decode()


def parse_form(body):
    fields = {}
    for pair in body.decode().split("&"):
        if not pair:
            continue
        k, _, v = pair.partition("=")
        fields[unquote(k)] = unquote(v)
    return fields


def changes_from(fields):
    """What to merge into config.json; None when the form is not usable."""
    ssid = fields.get("ssid", "").strip()
    if not ssid:
        return None
    changes = {"ssid": ssid, "password": fields.get("password", "")}
    url = fields.get("url", "").strip()
    if url:
        if not (url.startswith("http://") or url.startswith("https://")):
            return None
        changes["url"] = url
    token = fields.get("token", "").strip()
    if token:
        changes["token"] = token
    return changes


def _read_request(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(512)
        if not chunk:
            return None, b""
        data += chunk
        if len(data) > MAX_REQUEST_BYTES:
            return None, b""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = 0
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            try:
                length = int(v.strip())
            except ValueError:
                return None, b""
    if length > MAX_REQUEST_BYTES:
        return None, b""
    while len(body) < length:
        chunk = conn.recv(512)
        if not chunk:
            break
        body += chunk
    return lines[0].decode(), body[:length]


def _answer(conn, status, html):
    data = html.encode()
    conn.send(
        (
            "HTTP/1.1 %s\r\nContent-Type: text/html; charset=utf-8\r\n"
            "Content-Length: %d\r\nConnection: close\r\n\r\n" % (status, len(data))
        ).encode()
    )
    conn.send(data)


def run(
    network,
    config_path,
    log,
    timeout_s,
    name="tspush",
    port=80,
    feed=None,
    bind="0.0.0.0",
    cfg=None,
):
    """Serve the page until a valid form arrives (True) or ``timeout_s`` passes (False).

    The access point is WPA2 with this board's own password, made once and
    kept in config.json (``ap_password``): the firmware's default is public.
    """
    import socket

    from tspush.device import config

    cfg = {} if cfg is None else cfg
    pw = cfg.get("ap_password")
    if not pw:
        import binascii
        import os

        pw = cfg["ap_password"] = binascii.hexlify(os.urandom(6)).decode()
        config.update(config_path, {"ap_password": pw})
    ap = network.WLAN(network.AP_IF)
    ap.active(True)
    try:
        ap.config(essid=name, password=pw, authmode=getattr(network, "AUTH_WPA2_PSK", 3))
    except (OSError, ValueError, TypeError) as e:
        log.line("setup: cannot set the access point's password (%s); not opening it" % e)
        ap.active(False)
        return False
    log.line(
        "setup: join Wi-Fi %r with password %s and open http://192.168.4.1/ (%d s)"
        % (name, pw, timeout_s)
    )
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(socket.getaddrinfo(bind, port)[0][-1])
        s.listen(2)
        s.settimeout(1)
        start = ticks.ticks_ms()
        while ticks.ticks_diff(ticks.ticks_ms(), start) < timeout_s * 1000:
            if feed is not None:
                feed()
            try:
                conn, _ = s.accept()
            except OSError:
                continue
            try:
                conn.settimeout(5)
                line, body = _read_request(conn)
                if line is None:
                    continue
                if line.startswith("POST /save"):
                    changes = changes_from(parse_form(body))
                    if changes is None:
                        _answer(
                            conn,
                            "400 Bad Request",
                            "<p>Give the Wi-Fi name and an "
                            "http:// or https:// URL. <a href=/>Back</a>",
                        )
                        continue
                    config.update(config_path, changes)
                    _answer(conn, "200 OK", SAVED % _html(changes["ssid"]))
                    log.line("setup: saved Wi-Fi %r to %s" % (changes["ssid"], config_path))
                    return True
                _answer(conn, "200 OK", PAGE % (_html(name), _html(name), "https://host/api/put"))
            except OSError:
                pass
            finally:
                conn.close()
        log.line("setup: nobody answered in %d s; settings unchanged" % timeout_s)
        return False
    finally:
        s.close()
        try:
            ap.active(False)
        except OSError:
            pass


def _html(text):
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;")
    )
