"""Move points from the spool to one server: take, send, then ack, dead-letter or keep.

Shared by the board and the computer. Everything that touches the outside is
injected: ``send(body, details) -> (status, headers, body)`` (raises a
TransportError when no answer came), the clock, the random source.

What each answer does (``core.response`` says what it means):

* 2xx: ack; the points are never sent again.
* 400/422: the refused points go to the dead-letter file with the server's
  reason (redacted, and cut where it echoes our request headers), the rest
  count as delivered. With ``details`` the server names
  them; without, the batch is halved until each bad point stands alone.
* 413: the batch is halved (and ``max_points`` lowered for next time); a
  point too large on its own is dead-lettered.
* 401/403: keep everything, stop sending, say loudly that the token is
  rejected, try again after ``retry.auth_backoff_s`` so a fixed token resumes.
* 429/5xx, network, anything else: keep and back off (``Retry-After`` wins).
"""

from tspush.core.errors import AuthError, Rejected, ResponseError, TooLarge, TransportError

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
    ):
        from tspush.core.retry import Retry

        self.spool = spool
        self.output = output
        self.send = send
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
        self.attempt = 0  # consecutive failures
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
        try:
            dead = dead + self._deliver(records, 0)
        except AuthError as e:
            self._failed(e)
            if not self.auth_failed:
                self.log(
                    "error",
                    "output %s: THE TOKEN IS REJECTED (HTTP %d): nothing is sent until it is "
                    "fixed; %d point(s) kept; retrying every %ds"
                    % (
                        self.output,
                        e.status,
                        self.spool.pending(self.output),
                        self.retry.auth_backoff_s,
                    ),
                )
            self.auth_failed = True
            return AUTH, float(self.retry.auth_backoff_s)
        except (ResponseError, TransportError) as e:
            self._failed(e)
            self.retries += 1
            wait_s = self.retry.delay_s(self.attempt, getattr(e, "retry_after_s", None), self.rand)
            self.log(
                "warning",
                "output %s: %s; %d point(s) kept, retry %d in %.1fs"
                % (self.output, e, self.spool.pending(self.output), self.attempt, wait_s),
            )
            return KEPT, wait_s
        if dead:
            from tspush.core.echo import drop_headers

            # a server's echo of our headers is no reason to keep on disk
            dead = [(r, drop_headers(why)) for r, why in dead]
            self.dead_letters += self.spool.dead_letter(self.output, dead, self.dead_letter_path)
            self.log(
                "warning",
                "output %s: %d point(s) refused, written to the dead-letter file: %s"
                % (self.output, len(dead), dead[0][1]),
            )
        if self.auth_failed:
            self.log("info", "output %s: the token is accepted again" % self.output)
        self.auth_failed = False
        self.attempt = 0
        self.sent_points += len(batch) - len(dead)
        self.last_success_s = self.clock()
        return SENT, 0.0

    def _failed(self, e) -> None:
        self.attempt += 1
        self.last_error = str(e)
        self.last_error_s = self.clock()
        self.last_status = getattr(e, "status", None)

    def _deliver(self, records, depth: int):
        """Send ``records``; return refused ``(record, reason)`` pairs or raise to keep all."""
        if not records:
            return []
        body = self.encode(records)
        if len(body) > self.max_bytes:
            if len(records) == 1:
                return [
                    (
                        records[0],
                        "one point encodes to %d bytes, over max_bytes %d"
                        % (len(body), self.max_bytes),
                    )
                ]
            return self._halves(records, depth)
        details = self.details
        status, headers, rbody = self.send(body, details)
        self.sent_requests += 1
        self.last_status = status
        if 200 <= status < 300:  # the usual case: no need to load core.response (RAM)
            return []
        from tspush.core.response import classify

        try:
            classify(status, rbody, headers, getattr(self.send, "secrets", ()))
        except TooLarge as e:
            if len(records) == 1:
                return [(records[0], str(e))]
            self.max_points = max(1, len(records) // 2)
            return self._halves(records, depth)
        except Rejected as e:
            matched = _match(records, e.failed) if details else None
            if matched:
                return matched
            if len(records) == 1:
                return [(records[0], _reason(e))]
            return self._halves(records, depth)
        return []

    def _halves(self, records, depth: int):
        half = len(records) // 2
        return self._deliver(records[:half], depth + 1) + self._deliver(records[half:], depth + 1)

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


def _reason(e) -> str:
    if e.failed:
        return "; ".join(f[2] for f in e.failed if f[2]) or str(e)
    return str(e)


def _match(records, failed):
    """Refused records named by a ``?details`` answer; None when they cannot all be found."""
    import json

    if not failed:
        return None
    docs = []
    for r in records:
        try:
            docs.append(json.loads(r))
        except ValueError:
            docs.append(None)
    used = {}
    out = []
    for _, dp, reason in failed:
        if not isinstance(dp, dict):
            return None
        for i in range(len(docs)):
            d = docs[i]
            if i in used or d is None:
                continue
            if (
                d.get("metric") == dp.get("metric")
                and str(d.get("value")) == str(dp.get("value"))
                and (dp.get("timestamp") is None or d.get("timestamp") == dp.get("timestamp"))
                and (not dp.get("tags") or d.get("tags") == dp.get("tags"))
            ):
                used[i] = True
                out.append((records[i], reason or "refused"))
                break
        else:
            return None
    return out


def _clock():
    import time

    return int(time.time())


def _print_log(level: str, message: str) -> None:
    print("tspush: %s: %s" % (level, message))
