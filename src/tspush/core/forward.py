"""Move points from the spool to one server: take, send, then ack, dead-letter or keep.

The agent's and the relay's sender (``host.output`` runs one per connection).
What an answer means for a batch (2xx ack, 413 halve, 400 locate and
dead-letter, 401/403 stop, 429/5xx and network back off) is
``core.answer.deliver``'s, and how long to wait is the retry state's
(``core.retry.Retry``, a value replaced by its successor); the board's
``device.push`` uses the same two without this class (RAM). This module adds
the spool (ack, the dead-letter file), the counters and the log lines.
Everything that touches the outside is injected: ``send(Request) ->
response`` (``path`` and ``headers`` go into each Request), the clock, the
random source.

* 401/403: keep everything, stop sending, say loudly that the token is
  rejected, try again after ``retry.auth_backoff_s`` so a fixed token resumes.
* 429/5xx, network, anything else: keep and back off (``Retry-After`` wins).
"""

from tspush.core.answer import bury, deliver
from tspush.core.response import smaller

SENT = "sent"
EMPTY = "empty"
KEPT = "kept"
AUTH = "auth"


def opentsdb_body(records) -> bytes:
    """Stored records are OpenTSDB JSON objects already: the body is a join."""
    return b"[" + b",".join(records) + b"]"


class Forwarder:
    """One output's sending state; ``step()`` tries one batch and says how long to wait."""

    def __init__(
        self,
        spool,
        output: str,
        send,
        max_points: int = 50,
        max_bytes: int = 8192,
        retry=None,
        details: bool = False,
        encode=None,
        prepare=None,
        clock=None,
        rand=None,
        log=None,
        dead_letter_path=None,
        path="",
        headers=None,
        secrets=None,
    ):
        from tspush.core.retry import Retry

        self.spool = spool
        self.output = output
        self.send = send
        self.path = path
        self.headers = headers
        self.secrets = secrets if secrets is not None else getattr(send, "secrets", ())
        self.max_points = max_points
        self.configured_max_points = max_points
        self.max_bytes = max_bytes
        self.retry = retry or Retry()
        self.details = details
        self.encode = encode or opentsdb_body
        self.raw = encode is None
        self.prepare = prepare
        self.clock = clock or _clock
        self.rand = rand
        self.log = log or _print_log
        self.dead_letter_path = dead_letter_path
        self.auth_failed = False
        self.sent_points = 0
        self.sent_requests = 0
        self.retries = 0
        self.dead_letters = 0
        self.last_error = ""
        self.last_error_s = None
        self.last_success_s = None
        self.last_status = None

    def step(self):
        """Try one batch: ``(outcome, wait_s)``; outcome is SENT, EMPTY, KEPT or AUTH."""
        batch = self.take()
        if batch is None:
            return EMPTY, 0.0
        outcome, wait_s = self.handle(batch)
        if outcome == SENT:
            self.spool.ack(batch)
        return outcome, wait_s

    def take(self, start=None):
        """The next batch for this output (from ``start`` when batches are in flight)."""
        body_room = self.max_bytes - 2 if self.raw else 0
        return self.spool.take(self.output, self.max_points, body_room, 1, start)

    def handle(self, batch):
        """Send one batch; dead-letter what the server refused. The caller acks on SENT."""
        records = batch.records
        dead = []
        if self.prepare is not None:
            records, dead = self.prepare(records)
        docs = list if self.details else None  # records are JSON: response.locate reads them
        _, refused, stop = deliver(
            self.send,
            records,
            self.encode,
            self.path,
            self.headers,
            self.max_bytes,
            docs,
            self.secrets,
            "",
            self._note,
        )
        if stop is not None:
            self._failed(stop)
            wait_s = self.retry.wait_s(None, self.rand, stop)
            if stop.reason != "token-rejected":
                self.retries += 1
                self.log(
                    "warning",
                    "output %s: %s; %d point(s) kept, retry %d in %.1fs"
                    % (self.output, stop, self.spool.pending(self.output), self.attempt, wait_s),
                )
                return KEPT, wait_s
            if not self.auth_failed:
                self.log(
                    "error",
                    "output %s: THE TOKEN IS REJECTED (HTTP %d): nothing is sent until it is "
                    "fixed; %d point(s) kept; retrying every %ds"
                    % (
                        self.output,
                        stop.status,
                        self.spool.pending(self.output),
                        self.retry.auth_backoff_s,
                    ),
                )
            self.auth_failed = True
            return AUTH, wait_s
        dead = dead + [(r, why) for r, why, _ in refused]
        if dead:
            n, why = bury(self.spool, self.output, dead, self.dead_letter_path)
            self.dead_letters += n
            self.log(
                "warning",
                "output %s: %d point(s) refused, written to the dead-letter file: %s"
                % (self.output, len(dead), why),
            )
        if self.auth_failed:
            self.log("info", "output %s: the token is accepted again" % self.output)
        self.auth_failed = False
        self.retry = self.retry.reset()
        self.sent_points += len(batch) - len(dead)
        self.last_success_s = self.clock()
        return SENT, 0.0

    @property
    def attempt(self) -> int:
        """Consecutive failures (the retry state's count)."""
        return self.retry.attempt

    def _failed(self, e) -> None:
        self.retry = self.retry.increment()
        self.last_error = str(e)
        self.last_error_s = self.clock()
        self.last_status = getattr(e, "status", None)

    def _note(self, records, request, response, error) -> None:
        """Every request: count it; a 413 lowers ``max_points`` for the next batches."""
        if response is None:
            return
        self.sent_requests += 1
        self.last_status = response.status
        if error is not None:
            self.max_points = smaller(error, len(records)) or self.max_points

    def state(self) -> dict:
        return {
            "sent_points": self.sent_points,
            "requests": self.sent_requests,
            "retries": self.retries,
            "dead_letters": self.dead_letters,
            "attempt": self.attempt,
            "auth_failed": self.auth_failed,
            "last_error": self.last_error,
            "last_error_s": self.last_error_s,
            "last_success_s": self.last_success_s,
            "last_status": self.last_status,
            "max_points": self.max_points,
        }


def _clock():
    import time

    return int(time.time())


def _print_log(level: str, message: str) -> None:
    print("tspush: %s: %s" % (level, message))
