"""Send points through a Transport with a profile: batches in, a count of fates out.

One request per body from the profile's batcher, each through the delivery
engine the agent uses (``core.answer.deliver``: 413 halves, a 400's refused
points are located or bisected). This module only counts the fates in a
one-shot push: a bad token, a TLS failure, an unreachable or busy server
stops the run (the rest is counted as unsent, never as rejected). Retrying
later is the agent's job.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tspush.core import answer, auth, response
from tspush.core.errors import PointError, TspushError
from tspush.host.profiles import Profile, batcher_for, for_path, with_details
from tspush.host.transport import Reply, Transport


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
    return with_details(profile, transport.base_path or profile.path, details)


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
    reply = transport.send(answer.Request(path, body, _headers(profile), len(points)))
    e = response.judge(reply, transport.secrets, transport.display_url(path))
    if e is None:
        return reply
    # keeps headers (Retry-After) for display, without the token a server echoed
    setattr(e, "reply", _redacted(reply, transport.secrets))  # noqa: B010
    raise e


def _headers(profile: Profile) -> dict[str, str]:
    """Content-Type and the profile's own (e.g. promwrite: Content-Encoding: snappy)."""
    return {"Content-Type": profile.content_type, **dict(profile.headers)}


def _redacted(reply: Reply, secrets: list[str]) -> Reply:
    """The reply with every form of the token masked (vmauth echoes it on a 401)."""
    if not secrets:
        return reply
    return replace(
        reply,
        body=auth.redact(reply.body, secrets).encode(),
        headers={k: auth.redact(v, secrets) for k, v in reply.headers.items()},
    )


def _docs(points: Sequence[Any]) -> list[dict[str, Any]]:
    """Points as the dicts ``answer.locate`` matches a 400's refused datapoints against."""
    return [
        {"metric": p.metric, "value": p.value, "timestamp": p.ts, "tags": p.tags} for p in points
    ]


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
    try:
        batches = list(
            batcher_for(profile)(
                list(points), max_points=profile.max_points, max_bytes=profile.max_bytes
            )
        )
    except PointError as e:
        report.errors.append(e)
        report.unsent = len(points)
        return report
    details = profile.supports_details
    path = request_path(transport, profile, details)
    url = transport.display_url(path)
    started = [0.0]

    def send(request: answer.Request) -> Reply:
        started[0] = time.monotonic()
        return transport.send(request)

    def note(batch: list[Any], request: Any, reply: Reply | None, error: Any) -> None:
        report.requests += 1
        if on_request is not None:
            if reply is not None:
                reply = _redacted(reply, transport.secrets)
            elapsed_s = time.monotonic() - started[0]
            on_request(Attempt(url, request.body, batch, reply, error, elapsed_s))

    for n, (body, batch) in enumerate(batches):
        first = list(batch)

        def encode(b: list[Any], body: bytes = body, first: list[Any] = first) -> bytes:
            return body if b is first else _encode(profile, b)

        delivered, refused, stop = answer.deliver(
            send,
            first,
            encode,
            path,
            _headers(profile),
            0,  # the batcher kept every body under max_bytes
            _docs,  # a server may name the refused points unasked
            transport.secrets,
            url,
            note,
        )
        report.accepted += delivered
        report.rejected += len(refused)
        for _, _, err in refused:
            if err is not None and not any(err is x for x in report.errors):
                report.errors.append(err)
        if stop is not None:
            # Bad token, TLS, network, busy server: the rest would fail the same way.
            report.errors.append(stop)
            report.unsent += len(first) - delivered - len(refused)
            report.unsent += sum(len(b) for _, b in batches[n + 1 :])
            break
    return report


def _encode(profile: Profile, points: list[Any]) -> bytes:
    bodies = list(batcher_for(profile)(points, max_points=len(points), max_bytes=1 << 30))
    return bodies[0][0]
