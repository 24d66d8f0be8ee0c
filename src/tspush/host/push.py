"""Send points through a Transport with a profile: batches in, a count of fates out.

One request per body from the profile's batcher. What each answer means
comes from ``core.response.classify``; this module only decides what to do
next in a one-shot push: a 413 splits the batch in two and tries again, a
refused point is counted and the others go on, and a bad token, a TLS
failure, an unreachable or busy server stops the run (the rest is counted
as unsent, never as rejected). Retrying later is the agent's job.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tspush.core import auth, response
from tspush.core.errors import (
    PointError,
    Rejected,
    ResponseError,
    TooLarge,
    TransportError,
    TspushError,
)
from tspush.host.profiles import Profile, batcher_for, for_path
from tspush.host.transport import Reply, Transport

MAX_SPLIT_DEPTH = 8


@dataclass
class Attempt:
    """One request as it happened, for display (``-v``) and logs."""

    url: str  # host[:port]/path, no scheme, no token
    body: bytes
    points: list[Any]
    reply: Reply | None = None
    error: TspushError | None = None
    elapsed_s: float = 0.0


@dataclass
class PushReport:
    accepted: int = 0
    rejected: int = 0
    requests: int = 0
    errors: list[TspushError] = field(default_factory=list)
    unsent: int = 0

    @property
    def ok(self) -> bool:
        return self.rejected == 0 and self.unsent == 0 and not self.errors


def request_path(transport: Transport, profile: Profile, details: bool = False) -> str:
    """The URL's own path when it has one, else the profile's; ``details`` added if asked."""
    path = transport.base_path or profile.path
    if details and profile.supports_details and "details" not in path:
        path += ("&" if "?" in path else "?") + "details"
    return path


def send_batch(
    transport: Transport,
    profile: Profile,
    body: bytes,
    points: list[Any],
    *,
    details: bool = False,
) -> Reply:
    """POST one body; return the 2xx reply, else raise the ResponseError that fits."""
    path = request_path(transport, profile, details)
    extra = dict(profile.headers) or None  # e.g. promwrite: Content-Encoding: snappy
    reply = transport.post(path, body, content_type=profile.content_type, headers=extra)
    try:
        response.classify(
            reply.status,
            reply.body,
            reply.headers,
            secrets=transport.secrets,
            url=transport.display_url(path),
        )
    except ResponseError as e:
        # keeps headers (Retry-After) for display, without the token a server echoed
        setattr(e, "reply", _redacted(reply, transport.secrets))  # noqa: B010
        if isinstance(e, Rejected):
            e.failed = [_locate(f, points) for f in e.failed]
        raise
    return reply


def _redacted(reply: Reply, secrets: list[str]) -> Reply:
    """The reply with every form of the token masked (vmauth echoes it on a 401)."""
    if not secrets:
        return reply
    return replace(
        reply,
        body=auth.redact(reply.body, secrets).encode(),
        headers={k: auth.redact(v, secrets) for k, v in reply.headers.items()},
    )


def _locate(failed: tuple[Any, Any, str], points: Sequence[Any]) -> tuple[Any, Any, str]:
    """Fill the index of a refused datapoint by matching it to the batch."""
    index, datapoint, reason = failed
    if index is None and isinstance(datapoint, dict):
        for i, p in enumerate(points):
            if (
                getattr(p, "metric", None) == datapoint.get("metric")
                and str(getattr(p, "value", None)) == str(datapoint.get("value"))
                and (
                    datapoint.get("timestamp") is None
                    or str(getattr(p, "ts", None)) == str(datapoint.get("timestamp"))
                )
            ):
                return (i, datapoint, reason)
    return (index, datapoint, reason)


def push_points(
    transport: Transport,
    profile: Profile,
    points: Sequence[Any],
    *,
    on_request: Callable[[Attempt], None] | None = None,
) -> PushReport:
    """Send all points in bodies the profile allows; count what was accepted."""
    report = PushReport()
    profile = for_path(profile, request_path(transport, profile))  # influx precision=
    batches = batcher_for(profile)
    pending: deque[tuple[bytes, list[Any], int]] = deque()
    try:
        for body, batch in batches(
            list(points), max_points=profile.max_points, max_bytes=profile.max_bytes
        ):
            pending.append((body, list(batch), 0))
    except PointError as e:
        report.errors.append(e)
        report.unsent = len(points)
        return report
    details = profile.supports_details
    while pending:
        body, batch, depth = pending.popleft()
        attempt = Attempt(
            url=transport.display_url(request_path(transport, profile, details)),
            body=body,
            points=batch,
        )
        started = time.monotonic()
        report.requests += 1
        try:
            attempt.reply = send_batch(transport, profile, body, batch, details=details)
            report.accepted += len(batch)
        except TooLarge as e:
            attempt.error = e
            attempt.reply = _reply_of(e)
            if len(batch) > 1 and depth < MAX_SPLIT_DEPTH:
                half = len(batch) // 2
                pending.appendleft((_encode(profile, batch[half:]), batch[half:], depth + 1))
                pending.appendleft((_encode(profile, batch[:half]), batch[:half], depth + 1))
            else:
                report.rejected += len(batch)
                report.errors.append(e)
        except Rejected as e:
            attempt.error = e
            attempt.reply = _reply_of(e)
            if isinstance(e.success, int) and 0 <= e.success <= len(batch):
                report.accepted += e.success
                report.rejected += len(batch) - e.success
            else:
                report.rejected += len(batch)
            report.errors.append(e)
        except (TransportError, ResponseError) as e:
            # Bad token, TLS, network, busy server: the rest would fail the same way.
            attempt.error = e
            attempt.reply = _reply_of(e)
            report.errors.append(e)
            report.unsent += len(batch) + sum(len(b) for _, b, _ in pending)
            pending.clear()
        attempt.elapsed_s = time.monotonic() - started
        if on_request is not None:
            on_request(attempt)
    return report


def _encode(profile: Profile, points: list[Any]) -> bytes:
    bodies = list(batcher_for(profile)(points, max_points=len(points), max_bytes=1 << 30))
    return bodies[0][0]


def _reply_of(e: TspushError) -> Reply | None:
    """The reply a ResponseError came with (for display); None for transport errors."""
    reply = getattr(e, "reply", None)
    return reply if isinstance(reply, Reply) else None
