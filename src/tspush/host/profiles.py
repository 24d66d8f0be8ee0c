"""Named presets for the engines people push to, picked with one word.

A profile fixes the wire format, the path, how the token is sent, which
validation rules apply and how big a body may be. Every key can still be
overridden in config. Bodies are cut by ``batcher(format)`` (the format's
module in ``tspush.host.wire``) or ``batcher_for(profile, path)``, which also
honours a ``precision=`` in the URL; ``preparer(profile)`` is the
``core.prepare.Preparer`` that applies a profile's point rules.

The table in docs/profiles.md describes each profile for users.
"""

from __future__ import annotations

import socket
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import partial

from tspush.core import auth
from tspush.core.errors import ConfigError, PointError
from tspush.core.point import LENIENT, OPEN, STRICT, Point
from tspush.core.prepare import Preparer


@dataclass(frozen=True)
class Profile:
    name: str
    engine: str
    format: str  # "opentsdb" | "influx" | "warp10" | "promwrite"
    path: str
    auth_scheme: str = auth.BASIC
    auth_user: str = auth.DEFAULT_USER
    mode: str = LENIENT
    max_points: int = 50
    max_bytes: int = 8192
    content_type: str = "application/json"
    supports_details: bool = False  # OpenTSDB's ?details query parameter
    default_tags: tuple[tuple[str, str], ...] = ()
    host_tag: bool = False  # a point with no tags gets host=<this machine's name>
    stamp_missing: bool = False  # a point with no timestamp gets "now" before it is sent
    precision: str = ""  # influx: units of the body's timestamps (s, ms, us, ns)
    headers: tuple[tuple[str, str], ...] = ()  # sent with every request

    def with_overrides(self, **kw: object) -> Profile:
        return replace(self, **{k: v for k, v in kw.items() if v is not None})  # type: ignore[arg-type]


PROFILES: dict[str, Profile] = {
    "ovh": Profile(
        name="ovh",
        engine="OVH Metrics (closed 2021) or any OpenTSDB proxy with Basic auth",
        format="opentsdb",
        path="/api/put",
        auth_scheme=auth.BASIC,
        mode=LENIENT,
    ),
    "opentsdb": Profile(
        name="opentsdb",
        engine="OpenTSDB 2.x",
        format="opentsdb",
        path="/api/put",
        auth_scheme=auth.NONE,
        mode=STRICT,
        supports_details=True,
        host_tag=True,
        stamp_missing=True,
    ),
    "victoriametrics": Profile(
        name="victoriametrics",
        engine="VictoriaMetrics OpenTSDB HTTP listener",
        format="opentsdb",
        path="/api/put",
        auth_scheme=auth.BEARER,
        mode=LENIENT,
    ),
    "victoriametrics-influx": Profile(
        name="victoriametrics-influx",
        engine="VictoriaMetrics Influx line protocol (/write on its main port)",
        format="influx",
        path="/write",
        auth_scheme=auth.BEARER,
        mode=OPEN,
        max_points=5000,
        max_bytes=1 << 20,
        content_type="text/plain; charset=utf-8",
        precision="ns",
    ),
    "influx": Profile(
        name="influx",
        engine="InfluxDB 2.x/3.x /api/v2/write, or 1.x /write?db=NAME given in the URL",
        format="influx",
        path="/api/v2/write",
        auth_scheme=auth.TOKEN,
        mode=OPEN,
        max_points=5000,
        max_bytes=1 << 20,
        content_type="text/plain; charset=utf-8",
        precision="ns",
    ),
    "warp10": Profile(
        name="warp10",
        engine="Warp 10 /api/v0/update",
        format="warp10",
        path="/api/v0/update",
        auth_scheme=auth.WARP10,
        mode=LENIENT,
        max_points=5000,
        max_bytes=1 << 20,
        content_type="text/plain; charset=utf-8",
    ),
    "promwrite": Profile(
        name="promwrite",
        engine="Prometheus remote write receivers: VictoriaMetrics, Prometheus, Mimir",
        format="promwrite",
        path="/api/v1/write",
        auth_scheme=auth.BEARER,
        mode=OPEN,
        max_points=5000,
        max_bytes=1 << 20,
        content_type="application/x-protobuf",
        headers=(("Content-Encoding", "snappy"), ("X-Prometheus-Remote-Write-Version", "0.1.0")),
        stamp_missing=True,  # remote write has no "stamp on arrival"
    ),
    "tspush": Profile(
        name="tspush",
        engine="tspush serve (this project's receiver)",
        format="opentsdb",
        path="/api/put",
        auth_scheme=auth.BASIC,
        mode=LENIENT,
        supports_details=True,
    ),
}

DEFAULT_PROFILE = "ovh"


def get(name: str) -> Profile:
    """The named profile; ValueError listing the known names otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(
            f"unknown profile {name!r}: use one of {', '.join(sorted(PROFILES))}"
        ) from None


Encoder = Callable[[Iterable[object]], bytes]

Batcher = Callable[..., Iterable[tuple[bytes, list[object]]]]


def batcher(fmt: str) -> Batcher:
    """``batches(points, max_points=, max_bytes=)`` of a wire format (``tspush.host.wire``).

    Each yields ``(body, points_in_body)``; see ``tspush.core.opentsdb.batches``.
    The influx batcher writes nanoseconds, which every engine assumes when the
    URL has no ``precision=``; ``batcher_for`` follows the URL when it has one.
    """
    from tspush.host import wire

    fn: Batcher = wire.get(fmt).batches
    return fn


def url_precision(path: str) -> str | None:
    """The ``precision=`` query parameter of a path or URL, if any (v1 ``n``/``u`` mapped)."""
    query = urllib.parse.urlsplit(path).query
    values = urllib.parse.parse_qs(query).get("precision")
    if not values:
        return None
    p = values[-1]
    p = {"n": "ns", "u": "us", "µ": "us"}.get(p, p)
    if p not in ("s", "ms", "us", "ns"):
        raise ConfigError(
            f"precision={values[-1]!r} in the URL: use s, ms, us or ns (or leave it out)", "url"
        )
    return p


def batcher_for(profile: Profile, path: str = "") -> Batcher:
    """The profile's batcher, bound to the timestamp precision the request will declare.

    ``path`` is the path and query the request goes to (a URL's own path when
    it has one); a ``precision=`` there wins over the profile's.
    """
    fn = batcher(profile.format)
    if profile.format == "influx":
        precision = url_precision(path) if path else None
        return partial(fn, precision=precision or profile.precision or "ns")
    return fn


def for_path(profile: Profile, path: str) -> Profile:
    """The profile as it applies to requests sent to ``path``.

    An influx URL that says ``precision=`` gets bodies in that unit; an
    InfluxDB 2.x write without a bucket is a ConfigError saying what to add.
    """
    if profile.format == "influx":
        u = urllib.parse.urlsplit(path)
        if u.path.rstrip("/") == "/api/v2/write" and "bucket" not in urllib.parse.parse_qs(u.query):
            raise ConfigError(
                "InfluxDB 2.x needs the org and bucket in the URL: "
                "--url http://HOST:8086/api/v2/write?org=ORG&bucket=BUCKET "
                "(InfluxDB 1.x: http://HOST:8086/write?db=DB)",
                "url",
            )
        precision = url_precision(path)
        if precision and precision != profile.precision:
            return replace(profile, precision=precision)
    return profile


def request_path(profile: Profile, base_path: str = "") -> str:
    """Where to POST: the URL's own path if it has one, else the profile's.

    For influx profiles without a ``precision=`` in the path, ``precision``
    is added so the engine reads timestamps the way ``batcher_for`` wrote them.
    """
    path = base_path or profile.path
    if profile.format == "influx" and url_precision(path) is None and profile.precision:
        path += ("&" if "?" in path else "?") + "precision=" + profile.precision
    return path


def with_details(profile: Profile, path: str, details: bool) -> str:
    """``path`` asking for ``?details`` (which points were refused) when wanted and supported."""
    if details and profile.supports_details and "details" not in path:
        path += ("&" if "?" in path else "?") + "details"
    return path


def hostname() -> str:
    """This machine's short host name, made safe for a tag value."""
    name = socket.gethostname().split(".")[0] or "localhost"
    return "".join(c if c.isalnum() or c in "-_./" else "_" for c in name)


def preparer(
    profile: Profile,
    default_tags: dict[str, str] | None = None,
    host: str | None = None,
    clock: Callable[[], float] | None = None,
) -> Preparer:
    """The profile's ``core.prepare.Preparer``: its default tags (then ``default_tags``),
    ``host=<hostname>`` on a point without tags where it wants one, a stamp at
    send time where the engine cannot stamp on arrival, and its mode's rules."""
    tags = dict(profile.default_tags)
    tags.update(default_tags or {})
    if profile.stamp_missing and clock is None:
        import time

        clock = time.time
    return Preparer(
        profile.mode,
        tags,
        (host or hostname()) if profile.host_tag else None,
        clock if profile.stamp_missing else None,
    )


def prepare(
    profile: Profile,
    points: Iterable[Point],
    *,
    now_s: int | None = None,
    default_tags: dict[str, str] | None = None,
    host: str | None = None,
) -> tuple[list[Point], list[PointError]]:
    """``(ready, refused)``: each point through the profile's ``preparer``.

    A refused point's error names the rule; ``error.point`` is the point as given.
    """
    prep = preparer(profile, default_tags, host)
    return prep.split(points, now_s if profile.stamp_missing else None)
