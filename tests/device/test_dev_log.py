"""The serial log: the original's lines, named causes, never the token."""

import shimpath  # noqa: F401  (first: the hardware shims)

# isort: split


from tspush.core import auth
from tspush.core.errors import AuthError, DNSError, PinMismatch, Retryable, TLSError
from tspush.device.log import Log, cause_of


class Capture:
    def __init__(self):
        self.text = ""

    def __call__(self, s="", end="\n"):
        self.text += s + end


def test_original_lines_and_no_token():
    out = Capture()
    log = Log(auth.secret_forms("s3cr3t-token"), out)
    log.banner("0.1.0", "esp8266")
    log.dot()
    log.dot()
    log.ip("192.168.1.20")
    log.post("db.example", "/api/put", 1, 44)
    log.http(204)
    log.line("echo: Authorization: Basic " + auth.b64(b"DESC:s3cr3t-token"))
    log.line("raw s3cr3t-token")
    assert "IOT Metrics with tspush 0.1.0 on esp8266" in out.text
    assert "..\nIP address: 192.168.1.20\n" in out.text
    assert "POST db.example/api/put (1 points, 44 bytes)" in out.text
    assert "http: 204\n" in out.text
    assert "s3cr3t" not in out.text
    assert auth.b64(b"DESC:s3cr3t-token") not in out.text
    assert out.text.count("***") == 2


def test_named_causes():
    assert cause_of(DNSError("x")) == "DNS"
    assert cause_of(PinMismatch("x")) == "pin mismatch"
    assert cause_of(TLSError("x")) == "TLS"
    assert cause_of(AuthError("x", 401)) == "token rejected"
    assert cause_of(Retryable("x", 503)) == "server error"
    assert cause_of(MemoryError()) == "out of memory"
    e = TLSError("low heap")
    e.reason = "out-of-memory"
    assert cause_of(e) == "out of memory"
    out = Capture()
    Log([], out).fail(AuthError("HTTP 401: the token was rejected", 401), "sending")
    assert out.text == "error: token rejected while sending: HTTP 401: the token was rejected\n"


def test_rare_lines_come_from_says_and_leave_no_module_loaded():
    import sys

    out = Capture()
    log = Log(auth.secret_forms("s3cr3t-token"), out)
    log.say(40)
    log.say(6, (1, 10, 1, "10.0.0.2", "/api/put"))
    log.say(34, "wrong password s3cr3t-token")
    assert "Wi-Fi: link lost; re-joining\n" in out.text
    assert (
        "config: 1 sensor(s), every 10 s, push every 1 sample(s) to 10.0.0.2/api/put\n" in out.text
    )
    assert "Wi-Fi: failed: wrong password ***\n" in out.text
    # a line joined from two source lines reads as one
    assert log.text(36).endswith("|STAT_CONNECT_FAIL:the access point refused the board")
    assert "tspush.core.says" not in sys.modules  # its RAM is given back at once


class _Full:
    """Stands in for core.says when the heap is full: loading the line fails."""

    def text(self, code):
        raise MemoryError


def test_a_full_heap_logs_the_line_number_instead_of_failing():
    import sys

    out = Capture()
    log = Log([], out)
    sys.modules["tspush.core.says"] = _Full()
    try:
        log.say(18, 3)
        log.say(27, (1, 4))
        text = log.text(45, (900, 300))
    finally:
        sys.modules.pop("tspush.core.says", None)
    assert out.text == "18 3\n27 (1, 4)\n", out.text
    assert text == "45 (900, 300)"
    log.say(18, 3)
    assert "spool: 3 reading(s) of this cycle are lost (counted)\n" in out.text
