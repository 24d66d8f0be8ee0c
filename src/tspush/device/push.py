"""Sending what the buffer holds: batches, answers, back-off.

Batches come from the buffer (spool records or ``opentsdb.batches``), go
out over one kept-alive ``core.http.Connection``, and the answer is judged
by ``core.response.classify``, as on the computer: 2xx acks, 400/422 sets
the points aside (dead letter), 401/403 keeps them and waits long
(``Retry.auth_backoff_s``), 429/5xx and network trouble keep them and wait
``Retry.delay_s`` (honouring ``Retry-After``). No loop here waits: the app
asks ``ready()`` each cycle.
"""

from tspush.core import auth
from tspush.core.errors import AuthError, Rejected, ResponseError, TransportError
from tspush.device import ticks

MAX_REQUESTS_PER_CYCLE = 20


class Pusher:
    def __init__(self, cfg, log, conn, path, retry=None, rand=None):
        from tspush.core.retry import Retry

        self.log = log
        self.conn = conn
        self.path = path
        self.max_points = cfg["max_points"]
        self.max_bytes = cfg["max_bytes"]
        self.retry = retry or Retry(backoff_s=cfg["interval_s"], cap_s=600)
        self.rand = rand
        token = cfg.get("token") or None
        self.header = auth.header_pair(cfg.get("auth", "basic"), token, cfg.get("user", "DESC"))
        self.secrets = auth.secret_forms(token, cfg.get("user", "DESC"))
        self.attempt = 0
        self.wait_until_ms = None
        self.sent = 0
        self.rejected = 0
        self.requests = 0
        self.last_cause = None
        self.failures = {}
        self.said_pins = False

    def ready(self):
        if self.wait_until_ms is None:
            return True
        return ticks.ticks_diff(ticks.ticks_ms(), self.wait_until_ms) >= 0

    def _headers(self):
        h = {"Content-Type": "application/json"}
        if self.header is not None:
            h[self.header[0]] = self.header[1]
        return h

    def push(self, buffer, unstamped_too=False):
        """Send until the buffer is empty, a failure, or the per-cycle cap; return points sent."""
        if not self.ready():
            return 0
        sent = 0
        headers = self._headers()
        for _ in range(MAX_REQUESTS_PER_CYCLE):
            pending = buffer.take(self.max_points, self.max_bytes, unstamped_too)
            if pending is None:
                break
            try:
                self._send(pending, headers)
            except Rejected as e:
                self.log.fail(e, "sending")
                buffer.reject(pending, str(e))
                self.rejected += pending.count
                continue
            except (TransportError, ResponseError, MemoryError, OSError) as e:
                self._failed(e)
                return sent
            buffer.ack(pending)
            sent += pending.count
            self.sent += pending.count
            self.attempt = 0
            self.wait_until_ms = None
            self.last_cause = None
        return sent

    def _send(self, pending, headers):
        from tspush.core.response import classify

        conn = self.conn
        self.log.post(conn.host, self.path, pending.count, pending.body_len)
        self.requests += 1
        resp = conn.request("POST", self.path, pending.parts, headers, pending.body_len)
        if getattr(conn, "pins_unchecked", False) and not self.said_pins:
            self.said_pins = True
            self.log.warn(
                "TLS: this MicroPython cannot read the server certificate: the fingerprint "
                "is not checked, the CA check is"
            )
        self.log.http(resp.status, resp.body)
        classify(resp.status, resp.body, resp.headers, self.secrets, conn.host + self.path)

    def _failed(self, e):
        import gc

        self.conn.close()
        gc.collect()
        cause = self.log.fail(e, "sending")
        self.last_cause = cause
        self.failures[cause] = self.failures.get(cause, 0) + 1
        self.attempt += 1
        if isinstance(e, AuthError):
            delay_s = self.retry.auth_backoff_s
        else:
            delay_s = self.retry.delay_s(self.attempt, getattr(e, "retry_after_s", None), self.rand)
        self.wait_until_ms = ticks.ticks_add(ticks.ticks_ms(), int(delay_s * 1000))
        self.log.line("retry: in %d s (attempt %d); readings are kept" % (delay_s, self.attempt))
