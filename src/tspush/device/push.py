"""Sending what the buffer holds, over the board's HTTP client.

With a spool (the normal case) ``_push_spool`` does what the agent's
``core.forward.Forwarder`` does, with the same answers and log lines, without
loading it (its computer-side counters and options cost an ESP8266 RAM): take
a batch, send, then ack, dead-letter refused points (halving a refused batch
to find them), or keep and back off (``Retry``, ``Retry-After``; a rejected
token waits ``auth_backoff_s``). Without a spool, batches come from RAM via
the core's ``opentsdb.batches``. Either way ``send`` is the one place that
talks to the server: it logs ``POST host/path`` and ``http: CODE`` like the
original, and names the cause of a failure. Nothing here sleeps: the app
asks ``ready()``.
"""

from tspush.core import auth, errors
from tspush.core.errors import ResponseError, TransportError
from tspush.device import ticks

try:
    from micropython import const  # a private const name is not interned (RAM)
except ImportError:  # CPython
    const = int

_MAX_REQUESTS = const(20)


class Parts:
    """A request body as the spool's records with brackets and commas, never joined.

    ``Connection.request`` copies the pieces straight into its send buffer,
    so a 50-point request costs no body-sized copy (two, with ``join`` and ``+``).
    """

    def __init__(self, records):
        self.records = records
        n = len(records)
        size = 2 + (n - 1 if n else 0)
        for r in records:
            size += len(r)
        self.size = size

    def __len__(self):
        return self.size

    def __iter__(self):
        yield b"["
        first = True
        for r in self.records:
            if not first:
                yield b","
            first = False
            yield r
        yield b"]"


class Pusher:
    def __init__(self, cfg, log, conn, path, retry=None, rand=None):
        self.cfg = cfg
        self.log = log
        self.conn = conn
        self.path = path
        self.max_points = cfg["max_points"]  # halved on 413 or out of memory, grows back
        self.max_bytes = cfg["max_bytes"]
        if retry is None:  # made now: a failure may come when the heap has no room for it
            from tspush.core.retry import Retry

            retry = Retry(backoff_s=cfg["interval_s"], cap_s=600)
        self.retry = retry
        self.rand = rand
        token = cfg.get("token") or None
        user = cfg.get("user", "DESC")
        pair = auth.header_pair(cfg.get("auth", "basic"), token, user)
        self.headers = {"Content-Type": "application/json"}
        if pair is not None:
            self.headers[pair[0]] = pair[1]
        # the log's list when it has one (the app's holds these forms and the password):
        # one copy of a dozen strings, not two
        self.secrets = getattr(log, "secrets", None) or auth.secret_forms(token, user)
        self.attempt = 0
        self.wait_until_ms = None
        self.sent = 0
        self.rejected = 0
        self.requests = 0
        self.last_cause = None
        self.failures = {}
        self.said_pins = False
        self.auth_failed = False
        self.prepare = None  # stamps readings taken before the clock was set (Clock.stamp)

    def ready(self):
        if self.wait_until_ms is None:
            return True
        return ticks.ticks_diff(ticks.ticks_ms(), self.wait_until_ms) >= 0

    def _wait(self, wait_s):
        self.wait_until_ms = ticks.ticks_add(ticks.ticks_ms(), int(wait_s * 1000))

    # -- the one place that talks to the server -----------------------------------

    def send(self, body, details=False, count=None):
        """POST one body; ``(status, headers, body)``. Failures are logged with their cause."""
        conn = self.conn
        if count is None:
            records = getattr(body, "records", None)
            count = len(records) if records is not None else body.count(b'"metric"')
        self.log.post(conn.host, self.path, count, len(body))
        self.requests += 1
        resp = self._call(conn.request, "POST", self.path, body, self.headers, len(body))
        if getattr(conn, "pins_unchecked", False) and not self.said_pins:
            self.said_pins = True
            self.log.say(41)  # warning: TLS: ... the fingerprint is not checked (core/says.py)
        self.log.http(resp.status, resp.body)
        if not 200 <= resp.status < 300:
            try:
                ticks.need("tspush.core.response classify")(
                    resp.status, resp.body, resp.headers, self.secrets, conn.host + self.path
                )
            except ResponseError as e:
                self._note(e)
        return resp.status, resp.headers, resp.body

    def _call(self, fn, *args):
        """``fn(*args)`` on the connection; a failure (out of memory too) is logged with its
        cause and raised as a TransportError."""
        try:
            return fn(*args)
        except TransportError as e:
            self._note(e)
            raise
        except MemoryError as e:
            err = TransportError("out of memory while sending: send fewer points per batch", e)
            err.reason = "out-of-memory"
            self._note(err)
            raise err

    def _note(self, e):
        import gc

        if isinstance(e, TransportError):
            self.conn.close()
        gc.collect()
        cause = self.log.fail(e, "sending")
        self.last_cause = cause
        self.failures[cause] = self.failures.get(cause, 0) + 1

    # -- per cycle ------------------------------------------------------------

    def push(self, buffer):
        """Send until the buffer is empty, a failure, or the per-cycle cap; return points sent."""
        if not self.ready():
            return 0
        reserve = getattr(self.conn, "reserve", None)
        if reserve is not None and buffer.pending():
            # the HTTP buffer before the batch's records cut up the heap
            try:
                reserve()
            except MemoryError:  # send() meets it again, and says so as a failed send
                pass
        if buffer.spool is not None:
            return self._push_spool(buffer.spool)
        return self._push_ram(buffer)

    def _push_spool(self, spool):
        """``Forwarder.step`` for the board's one output, answer by answer (see the docstring)."""
        sent = 0
        for _ in range(_MAX_REQUESTS):
            self.last_cause = None
            conn = self.conn
            try:
                if getattr(conn, "tls", False) and conn.sock is None and spool.pending("board"):
                    # the TLS handshake before the batch is read: mbedTLS wants large blocks,
                    # and the batch's records would cut the heap up first
                    self._call(conn.connect)
                batch = spool.stream("board", self.max_points)  # read as it is sent
                if batch is None:
                    break
                records = batch.records
                dead = []
                if self.prepare is not None:
                    records, dead = self.prepare(records)
                dead = dead + self._deliver(records)
            except (ResponseError, TransportError) as e:
                self.attempt += 1
                retry = self.retry
                if e.reason == "token-rejected":  # AuthError, by its reason: no class to load
                    wait_s = float(retry.auth_backoff_s)
                    if not self.auth_failed:
                        status = getattr(e, "status", 0)
                        n = spool.pending("board")
                        self.log.say(42, (status, n, retry.auth_backoff_s))  # TOKEN IS REJECTED
                    self.auth_failed = True
                else:
                    wait_s = retry.delay_s(
                        self.attempt, getattr(e, "retry_after_s", None), self.rand
                    )
                    self.log.line(
                        "warning: output board: %s; %d point(s) kept, retry %d in %.1fs"
                        % (e, spool.pending("board"), self.attempt, wait_s)
                    )
                self._wait(wait_s)
                if self.last_cause == "out of memory" and self.max_points > 1:
                    self.max_points = self.max_points // 2
                    self.log.line("memory: next batches at most %d points" % self.max_points)
                break
            if dead:
                drop = ticks.need("tspush.core.echo drop_headers")
                # a server's echo of our headers is no reason to keep on flash
                dead = [(r, drop(why)) for r, why in dead]
                self.rejected += spool.dead_letter("board", dead)
                self.log.say(43, (len(dead), dead[0][1]))  # refused, to the dead-letter file
            if self.auth_failed:
                self.log.say(44)  # output board: the token is accepted again
            self.auth_failed = False
            self.attempt = 0
            self.wait_until_ms = None
            spool.ack(batch)
            n = len(batch) - len(dead)
            sent += n
            self.sent += n  # counted at once: a MemoryError later in the cycle loses no count
            if self.max_points < self.cfg["max_points"]:  # memory came back: grow again
                self.max_points = min(self.cfg["max_points"], self.max_points * 2)
            if not spool.pending("board"):  # no read of the flash to learn it
                break
        return sent

    def _deliver(self, records):
        """Send ``records``; return refused ``(record, reason)`` pairs, or raise to keep all."""
        n = len(records)
        if not n:
            return []
        body = Parts(records)
        if len(body) > self.max_bytes:
            if n == 1:
                return [(records[0], self.log.text(45, (len(body), self.max_bytes)))]
        else:
            status, headers, rbody = self.send(body)
            if 200 <= status < 300:  # the usual case: core.response is not loaded (RAM)
                return []
            try:
                ticks.need("tspush.core.response classify")(status, rbody, headers, self.secrets)
                return []
            except errors.TooLarge as e:
                if n == 1:
                    return [(records[0], str(e))]
                self.max_points = max(1, n // 2)
            except errors.Rejected as e:
                if n == 1:
                    why = "; ".join(f[2] for f in e.failed if f[2]) if e.failed else ""
                    return [(records[0], why or str(e))]
        h = n // 2
        return self._deliver(records[:h]) + self._deliver(records[h:])

    def _push_ram(self, buffer):
        classify = ticks.need("tspush.core.response classify")

        sent = 0
        for _ in range(_MAX_REQUESTS):
            pending = buffer.take(self.max_points, self.max_bytes)
            if pending is None:
                break
            try:
                status, headers, body = self.send(pending[0], False, pending[1])
                classify(status, body, headers, self.secrets)
            except errors.Rejected as e:
                buffer.reject(pending, str(e))
                self.rejected += pending[1]
                continue
            except (TransportError, ResponseError) as e:
                self.attempt += 1
                retry = self.retry
                if e.reason == "token-rejected":  # AuthError, by its reason: no class to load
                    wait_s = retry.auth_backoff_s
                else:
                    wait_s = retry.delay_s(
                        self.attempt, getattr(e, "retry_after_s", None), self.rand
                    )
                self._wait(wait_s)
                self.log.say(46, (wait_s, self.attempt))  # retry: in ... s; readings are kept
                return sent
            buffer.ack(pending)
            sent += pending[1]
            self.sent += pending[1]
            self.attempt = 0
            self.wait_until_ms = None
        return sent
