"""Sending what the buffer holds, over the board's HTTP client, through the delivery engine.

Each batch goes through ``core.answer.deliver``, as the agent's and ``tspush
push``'s do: a 2xx acks, a 413 halves (and lowers ``max_points``), a 400
refuses what it names (bisected: the board asks for no ``?details``), a
rejected token, a busy server or no answer stops the cycle. The wait after a
stop is the retry state's (``Retry.increment()``, ``wait_s``: a rejected
token waits ``auth_backoff_s``, ``Retry-After`` wins); running out of memory
while sending halves the next batches. With a spool (the normal case) the
refused points go to its dead-letter file and the log lines are the agent's
(``core.forward``, whose class the board does not load: RAM); without one,
``device.pushram`` sends the readings RAM holds. ``send`` is the one place that
talks to the server: it logs ``POST host/path`` and ``http: CODE`` like the
original, and names the cause of a failure. Nothing here sleeps: the app
asks ``ready()``.
"""

from tspush.core import auth
from tspush.core.errors import TransportError
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
        self.retry = retry  # a value: replaced by its successor at each failure
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
        self.wait_until_ms = None
        self.sent = 0
        self.rejected = 0
        self.failures = {}
        self.said_pins = False
        self.auth_failed = False
        self.prepare = None  # stamps readings taken before the clock was set (Clock.stamp)

    def ready(self):
        if self.wait_until_ms is None:
            return True
        return ticks.ticks_diff(ticks.ticks_ms(), self.wait_until_ms) >= 0

    # -- the one place that talks to the server -----------------------------------

    def send(self, request):
        """The engine's ``send(Request)``: POST it, return the connection's response (or raise
        a TransportError, out of memory too)."""
        conn = self.conn
        body = request.body
        self.log.post(conn.host, request.path, request.count, len(body))
        resp = self._call(conn.request, "POST", request.path, body, request.headers, len(body))
        if getattr(conn, "pins_unchecked", False) and not self.said_pins:
            self.said_pins = True
            self.log.say(41)  # warning: TLS: ... the fingerprint is not checked (core/says.py)
        self.log.http(resp.status, resp.body)
        return resp

    def _call(self, fn, *args):
        """``fn(*args)`` on the connection; running out of memory is raised as a TransportError
        (reason ``out-of-memory``): the engine stops on it like on any failure to send."""
        try:
            return fn(*args)
        except MemoryError as e:
            err = TransportError("out of memory while sending: send fewer points per batch", e)
            err.reason = "out-of-memory"
            raise err

    def note(self, batch, request, response, error):
        """The engine's note of each request (and of a failed connect): a failure is logged
        with its cause (no answer: the connection is closed); a 413 lowers ``max_points``."""
        if error is None:
            return
        import gc

        if response is None:
            self.conn.close()
        gc.collect()
        cause = self.log.fail(error, "sending")
        self.failures[cause] = self.failures.get(cause, 0) + 1
        if response is not None:
            k = ticks.need("tspush.core.response smaller")(error, len(batch))
            self.max_points = k or self.max_points

    def _deliver(self, items, encode):
        """``(delivered, refused, stop)`` from ``core.answer.deliver``, loaded at the first push
        (one string: no name interned before)."""
        return ticks.need("tspush.core.answer deliver")(
            self.send,
            items,
            encode,
            self.path,
            self.headers,
            self.max_bytes,
            None,
            self.secrets,
            self.conn.host + self.path,  # named in a refusal's message, as the log says it
            self.note,
        )

    def _failed(self, e, n):
        """Back off after ``e`` stopped sending, ``n`` points kept (said as the agent says it);
        out of memory: the next batches are halved."""
        self.retry = retry = self.retry.increment()
        wait_s = retry.wait_s(None, self.rand, e)
        self.wait_until_ms = ticks.ticks_add(ticks.ticks_ms(), int(wait_s * 1000))
        if e.reason == "token-rejected":
            if not self.auth_failed:
                self.log.say(42, (e.status, n, retry.auth_backoff_s))  # TOKEN IS REJECTED
            self.auth_failed = True
        else:
            # in this module, not core/says.py: after running out of memory, loading it may fail
            self.log.line(
                "warning: output board: %s; %d point(s) kept, retry %d in %.1fs"
                % (e, n, retry.attempt, wait_s)
            )
        if e.reason == "out-of-memory" and self.max_points > 1:  # the board's own: halve
            self.max_points = self.max_points // 2
            self.log.line("memory: next batches at most %d points" % self.max_points)

    def ack(self, n):
        """A batch has its fate: ``n`` points delivered; the retry state starts over."""
        if self.auth_failed:
            self.log.say(44)  # output board: the token is accepted again
        self.auth_failed = False
        self.retry = self.retry.reset()
        self.wait_until_ms = None
        self.sent += n  # counted at once: a MemoryError later in the cycle loses no count
        if self.max_points < self.cfg["max_points"]:  # memory came back: grow again
            self.max_points = min(self.cfg["max_points"], self.max_points * 2)

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
        # no spool: readings wait in RAM (rare; its module is loaded only then)
        return ticks.need("tspush.device.pushram push")(self, buffer, _MAX_REQUESTS)

    def _push_spool(self, spool):
        """``Forwarder.step`` for the board's one output: take, deliver, then ack (refused
        points to the dead-letter file) or keep and back off."""
        sent = 0
        for _ in range(_MAX_REQUESTS):
            conn = self.conn
            if getattr(conn, "tls", False) and conn.sock is None and spool.pending("board"):
                # the TLS handshake before the batch is read: mbedTLS wants large blocks,
                # and the batch's records would cut the heap up first
                try:
                    self._call(conn.connect)
                except TransportError as e:
                    self.note(None, None, None, e)
                    self._failed(e, spool.pending("board"))
                    break
            batch = spool.stream("board", self.max_points)  # read from flash as it is sent
            if batch is None:
                break
            records = batch.records
            dead = []
            if self.prepare is not None:
                records, dead = self.prepare(records)
            _, refused, stop = self._deliver(records, Parts)
            if stop is not None:
                self._failed(stop, spool.pending("board"))
                break
            if refused:
                dead = dead + [(r, why) for r, why, _ in refused]
            if dead:
                n, why = ticks.need("tspush.core.answer bury")(spool, "board", dead)
                self.rejected += n
                self.log.say(43, (len(dead), why))  # refused, to the dead-letter file
            n = len(batch) - len(dead)
            # the records' RAM back before the cursor is written: ack needs only the position
            del records, dead, refused
            batch.records = None
            spool.ack(batch)
            sent += n
            self.ack(n)
            if not spool.pending("board"):  # no read of the flash to learn it
                break
        return sent
