"""Profiles: each names a format its batcher can encode, and prepare() applies its rules."""

from __future__ import annotations

import pytest

from tspush.core import auth
from tspush.core.errors import ConfigError
from tspush.core.point import STRICT, Point
from tspush.host import profiles


@pytest.mark.parametrize("name", sorted(profiles.PROFILES))
def test_every_profile_batches_a_point(name: str) -> None:
    prof = profiles.get(name)
    assert prof.name == name
    assert prof.auth_scheme in auth.SCHEMES
    fn = profiles.batcher_for(prof, prof.path)
    out = list(fn([Point("m", 1, 1700000000, {"host": "a"})], max_points=10, max_bytes=1000))
    assert len(out) == 1 and len(out[0][1]) == 1
    assert len(out[0][0]) <= 1000


def test_influx_body_follows_the_precision_in_the_url() -> None:
    prof = profiles.get("influx")
    p = [Point("m", 1, 1700000000)]
    body_ns = next(iter(profiles.batcher_for(prof, "/api/v2/write?org=o&bucket=b")(p)))[0]
    body_ms = next(iter(profiles.batcher_for(prof, "/write?db=x&precision=ms")(p)))[0]
    body_s = next(iter(profiles.batcher_for(prof, "/write?db=x&precision=s")(p)))[0]
    assert body_ns == b"m value=1i 1700000000000000000\n"
    assert body_ms == b"m value=1i 1700000000000\n"
    assert body_s == b"m value=1i 1700000000\n"
    with pytest.raises(ConfigError, match="precision='h'"):
        profiles.batcher_for(prof, "/write?db=x&precision=h")


def test_request_path_declares_the_precision_it_writes() -> None:
    prof = profiles.get("influx")
    assert profiles.request_path(prof) == "/api/v2/write?precision=ns"
    assert (
        profiles.request_path(prof, "/api/v2/write?org=o&bucket=b")
        == "/api/v2/write?org=o&bucket=b&precision=ns"
    )
    assert profiles.request_path(prof, "/write?db=x&precision=ms") == "/write?db=x&precision=ms"
    assert profiles.request_path(profiles.get("ovh")) == "/api/put"
    assert profiles.request_path(profiles.get("warp10")) == "/api/v0/update"


def test_headers_per_profile() -> None:
    def pair(name: str) -> tuple[str, str] | None:
        prof = profiles.get(name)
        return auth.header_pair(prof.auth_scheme, "T", prof.auth_user)

    assert pair("ovh") == ("Authorization", "Basic REVTQzpU")
    assert pair("influx") == ("Authorization", "Token T")
    assert pair("warp10") == ("X-Warp10-Token", "T")
    assert pair("victoriametrics") == ("Authorization", "Bearer T")
    assert pair("opentsdb") is None


def test_opentsdb_prepare_fills_host_and_time_and_refuses_the_rest() -> None:
    prof = profiles.get("opentsdb")
    assert prof.mode == STRICT and prof.supports_details and prof.max_bytes == 8192
    pts = [
        Point("universe", 42),  # the original's point: no tags, no timestamp
        Point("m", 1, 1700000000, {"room": "k"}),
        Point("m", 2, None, {f"k{i}": "v" for i in range(9)}),  # 9 tags
    ]
    ok, refused = profiles.prepare(prof, pts, now_s=1700000123, host="box")
    assert ok == [
        Point("universe", 42, 1700000123, {"host": "box"}),
        Point("m", 1, 1700000000, {"room": "k"}),
    ]
    assert [e.rule for e in refused] == ["tags-too-many"]
    assert refused[0].point is pts[2]


def test_prepare_default_tags_never_override_the_points_own() -> None:
    prof = profiles.get("ovh")
    ok, refused = profiles.prepare(
        prof, [Point("m", 1, None, {"host": "mine"})], default_tags={"host": "x", "site": "s"}
    )
    assert refused == []
    assert ok == [Point("m", 1, None, {"host": "mine", "site": "s"})]  # ovh: stays unstamped


def test_hostname_is_a_valid_tag_value() -> None:
    from tspush.core.point import check

    assert check(Point("m", 1, 1, {"host": profiles.hostname()}), STRICT) is None


def test_unknown_names() -> None:
    with pytest.raises(ValueError, match="influx"):
        profiles.get("nope")
    with pytest.raises(ValueError, match="warp10"):
        profiles.batcher("nope")


def test_influx_v2_without_bucket_says_what_to_add() -> None:
    prof = profiles.get("influx")
    with pytest.raises(ConfigError, match="bucket=BUCKET"):
        profiles.for_path(prof, "/api/v2/write")
    with pytest.raises(ConfigError, match="org and bucket"):
        profiles.for_path(prof, "/api/v2/write?org=o&precision=ns")
    assert profiles.for_path(prof, "/api/v2/write?org=o&bucket=b") is prof
    assert profiles.for_path(prof, "/write?db=x&precision=s").precision == "s"
