"""Named presets for the engines people push to, picked with one word.

A profile fixes the wire format, the path, how the token is sent, which
validation rules apply and how big a body may be. Every key can still be
overridden in config. Encoders are looked up by ``format`` in ``encoders()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from tspush.core import auth
from tspush.core.point import LENIENT, STRICT


@dataclass(frozen=True)
class Profile:
    name: str
    engine: str
    format: str  # "opentsdb" | "influx" | "warp10"
    path: str
    auth_scheme: str = auth.BASIC
    auth_user: str = auth.DEFAULT_USER
    mode: str = LENIENT
    max_points: int = 50
    max_bytes: int = 8192
    content_type: str = "application/json"
    supports_details: bool = False  # OpenTSDB's ?details query parameter
    default_tags: tuple[tuple[str, str], ...] = ()

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
    ),
    "victoriametrics": Profile(
        name="victoriametrics",
        engine="VictoriaMetrics OpenTSDB HTTP listener",
        format="opentsdb",
        path="/api/put",
        auth_scheme=auth.BEARER,
        mode=LENIENT,
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
    """``batches(points, max_points=, max_bytes=)`` for a wire format.

    Each yields ``(body, points_in_body)``; see ``tspush.core.opentsdb.batches``.
    """
    if fmt == "opentsdb":
        from tspush.core import opentsdb

        return opentsdb.batches
    raise ValueError(f"unknown wire format {fmt!r}")
