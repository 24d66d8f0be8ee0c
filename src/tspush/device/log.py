"""The serial log, in the spirit of the original sketch, with named causes.

A person watching ``tspush monitor`` sees the banner, the Wi-Fi dots,
``IP address: ...``, ``POST host/api/put``, ``http: 204``; failures say which
cause (DNS, connect, TLS, pin mismatch, token rejected, server error, out of
memory) and what to check, instead of a bare negative number. Every line
goes through ``auth.redact``: the token is never printed.
"""

from tspush.core.auth import redact
from tspush.core.errors import words

# Exception ``reason`` -> the words the log uses: one string, read on failure only
# (a dict of short strings would hold RAM and intern a dozen names on a board).
CAUSES = (
    "dns:DNS|connect:connect|timeout:timeout|tls:TLS|pin-mismatch:pin mismatch|"
    "protocol:bad HTTP answer|token-rejected:token rejected|retryable:server error|"
    "rejected:points rejected|too-large:body too large|server:server error|"
    "out-of-memory:out of memory|network:network"
)


def cause_of(e):
    """The short cause name of an exception, for the log and for counters."""
    if isinstance(e, MemoryError):
        return "out of memory"
    reason = getattr(e, "reason", None)
    if isinstance(reason, str):
        for entry in CAUSES.split("|"):
            key, _, words = entry.partition(":")
            if key == reason:
                return words
    if isinstance(e, OSError):
        return "network"
    return "error"


class Log:
    """Lines to the serial console (``out`` is ``print`` on the board)."""

    def __init__(self, secrets=(), out=None):
        self.secrets = list(secrets)
        self.out = out or print
        self._dots = False

    def line(self, text):
        if self._dots:
            self._dots = False
            self.out("")
        self.out(redact(str(text), self.secrets))

    def dot(self):
        self._dots = True
        try:
            self.out(".", end="")
        except TypeError:
            self.out(".")

    def banner(self, version, board):
        self.line("")
        self.line("IOT Metrics with tspush %s on %s" % (version, board))

    def ip(self, addr):
        self.line("IP address: %s" % addr)

    def post(self, host, path, n_points, n_bytes):
        rule = "-" * 40
        self.line(rule)
        self.line("POST %s%s (%d points, %d bytes)" % (host, path, n_points, n_bytes))
        self.line(rule)

    def http(self, status, body=b""):
        self.line("http: %d" % status)
        if body:
            text = body.decode() if isinstance(body, (bytes, bytearray)) else str(body)
            self.line("response: %s" % text[:200])

    def fail(self, e, doing=""):
        cause = cause_of(e)
        where = (" while " + doing) if doing else ""
        self.line("error: %s%s: %s" % (cause, where, e))
        return cause

    def text(self, code, args=()):
        """Line ``code`` of ``core/says.py`` with ``args`` (``errors.words``)."""
        return words(code, args)

    def say(self, code, args=()):
        self.line(self.text(code, args))

    def warn(self, text):
        self.line("warning: %s" % text)
