"""The OpenTSDB query engine on a real SQLite file: times, downsampling, rate, filters, groups."""

from __future__ import annotations

from pathlib import Path

import pytest

from tspush.receiver import query as q
from tspush.receiver.errors import ApiError
from tspush.receiver.store import Store

T0 = 1_700_000_000  # seconds, a multiple of 10 and of 60? 1700000000 % 60 == 20
BASE = 1_699_999_980  # a minute boundary: 1699999980 % 60 == 0


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "q.sqlite")
    rows = []
    for i in range(12):  # two minutes of 10 s points
        ts_ms = (BASE + 10 * i) * 1000
        rows.append(("temp", {"host": "a", "dc": "x"}, ts_ms, i))
        rows.append(("temp", {"host": "b", "dc": "x"}, ts_ms, 100 + i))
        rows.append(("temp", {"host": "web01", "dc": "y"}, ts_ms, 1000.5))
    s.insert(rows)
    return s


def run(store: Store, **sub: object) -> list[dict[str, object]]:
    body = {"start": BASE, "end": BASE + 119, "queries": [dict({"metric": "temp"}, **sub)]}
    return q.run(store, q.Query(body, now_ms=(BASE + 200) * 1000))


def test_times_absolute_relative_and_dates() -> None:
    now = 1_700_000_000_000
    assert q.parse_time_ms(1_700_000_000, now) == 1_700_000_000_000
    assert q.parse_time_ms("1700000000123", now) == 1_700_000_000_123
    assert q.parse_time_ms("1h-ago", now) == now - 3_600_000
    assert q.parse_time_ms("15m-ago", now) == now - 900_000
    assert q.parse_time_ms("now", now) == now
    assert q.parse_time_ms("2023/11/14-22:13:20", now) == 1_700_000_000_000
    for bad in ("yesterday", "", "1x-ago", True, None):
        with pytest.raises(ApiError) as e:
            q.parse_time_ms(bad, now)
        assert e.value.status == 400


def test_end_before_start_is_400(store: Store) -> None:
    with pytest.raises(ApiError, match="End time"):
        q.Query({"start": 200, "end": 100, "queries": [{"metric": "temp"}]})


def test_sum_groups_everything_and_names_aggregate_tags(store: Store) -> None:
    (res,) = run(store, aggregator="sum")
    assert res["metric"] == "temp"
    assert res["tags"] == {}
    assert res["aggregateTags"] == ["dc", "host"]
    dps = res["dps"]
    assert isinstance(dps, dict)
    assert dps[str(BASE)] == 0 + 100 + 1000.5
    assert dps[str(BASE + 110)] == 11 + 111 + 1000.5
    assert len(dps) == 12


def test_group_by_wildcard_tag_and_literal_or(store: Store) -> None:
    res = run(store, aggregator="max", tags={"dc": "*"})
    assert [(r["tags"], r["aggregateTags"]) for r in res] == [
        ({"dc": "x"}, ["host"]),
        ({"dc": "y", "host": "web01"}, []),
    ]
    assert res[0]["dps"][str(BASE + 50)] == 105  # type: ignore[index]
    res = run(store, aggregator="sum", tags={"host": "a|web01"})
    assert sorted(r["tags"]["host"] for r in res) == ["a", "web01"]  # type: ignore[index]


def test_filters_wildcard_regexp_not_literal(store: Store) -> None:
    def hosts(filters: list[dict[str, object]]) -> list[str]:
        res = run(store, aggregator="none", filters=filters)
        return sorted(r["tags"]["host"] for r in res)  # type: ignore[index]

    f = {"tagk": "host", "groupBy": False}
    assert hosts([dict(f, type="wildcard", filter="web*")]) == ["web01"]
    assert hosts([dict(f, type="iwildcard", filter="WEB*")]) == ["web01"]
    assert hosts([dict(f, type="regexp", filter="^[ab]$")]) == ["a", "b"]
    assert hosts([dict(f, type="not_literal_or", filter="a|b")]) == ["web01"]
    assert hosts([dict(f, type="iliteral_or", filter="A")]) == ["a"]
    assert (
        hosts(
            [
                dict(f, type="literal_or", filter="a"),
                {"type": "literal_or", "tagk": "dc", "filter": "y", "groupBy": False},
            ]
        )
        == []
    )


def test_downsample_avg_with_aligned_buckets(store: Store) -> None:
    res = run(
        store,
        aggregator="none",
        downsample="1m-avg",
        filters=[{"type": "literal_or", "tagk": "host", "filter": "a", "groupBy": False}],
    )
    assert res[0]["dps"] == {str(BASE): 2.5, str(BASE + 60): 8.5}


def test_downsample_fill_policies(tmp_path: Path) -> None:
    s = Store(tmp_path / "f.sqlite")
    s.insert([("g", {"k": "v"}, BASE * 1000, 1), ("g", {"k": "v"}, (BASE + 120) * 1000, 3)])
    base = {"start": BASE, "end": BASE + 179}

    def dps(ds: str) -> object:
        body = dict(base, queries=[{"metric": "g", "aggregator": "sum", "downsample": ds}])
        return q.run(s, q.Query(body))[0]["dps"]

    assert dps("1m-sum") == {str(BASE): 1, str(BASE + 120): 3}
    assert dps("1m-sum-zero") == {str(BASE): 1, str(BASE + 60): 0, str(BASE + 120): 3}
    assert dps("1m-sum-null") == {str(BASE): 1, str(BASE + 60): None, str(BASE + 120): 3}
    assert dps("0all-sum") == {str(BASE): 4}
    with pytest.raises(ApiError, match="fill policy"):
        dps("1m-sum-banana")


def test_rate_and_counter_wrap(tmp_path: Path) -> None:
    s = Store(tmp_path / "r.sqlite")
    vals = [100, 110, 130, 5]  # the counter wraps at 200 before the last point
    s.insert([("c", {"k": "v"}, (BASE + 10 * i) * 1000, v) for i, v in enumerate(vals)])
    body = {
        "start": BASE,
        "end": BASE + 60,
        "queries": [{"metric": "c", "aggregator": "sum", "rate": True}],
    }
    assert q.run(s, q.Query(body))[0]["dps"] == {
        str(BASE + 10): 1.0,
        str(BASE + 20): 2.0,
        str(BASE + 30): -12.5,
    }
    body["queries"][0]["rateOptions"] = {"counter": True, "counterMax": 200}  # type: ignore[index]
    assert q.run(s, q.Query(body))[0]["dps"][str(BASE + 30)] == 7.5


def test_interpolation_between_unaligned_series(tmp_path: Path) -> None:
    s = Store(tmp_path / "i.sqlite")
    s.insert(
        [
            ("m", {"h": "a"}, 0 + BASE * 1000, 0),
            ("m", {"h": "a"}, (BASE + 20) * 1000, 20),
            ("m", {"h": "b"}, (BASE + 10) * 1000, 5),
        ]
    )
    body = {"start": BASE, "end": BASE + 30, "queries": [{"metric": "m", "aggregator": "sum"}]}
    # at BASE+10 series a is interpolated to 10; b exists only at BASE+10
    assert q.run(s, q.Query(body))[0]["dps"] == {
        str(BASE): 0,
        str(BASE + 10): 15.0,
        str(BASE + 20): 20,
    }
    body["queries"][0]["aggregator"] = "zimsum"  # type: ignore[index]
    assert q.run(s, q.Query(body))[0]["dps"][str(BASE + 10)] == 5


def test_ms_resolution_and_arrays(tmp_path: Path) -> None:
    s = Store(tmp_path / "ms.sqlite")
    s.insert([("m", {}, BASE * 1000 + 250, 1), ("m", {}, BASE * 1000 + 750, 2)])
    base = {"start": BASE, "end": BASE + 1, "queries": [{"metric": "m", "aggregator": "sum"}]}
    assert q.run(s, q.Query(dict(base, msResolution=True)))[0]["dps"] == {
        str(BASE * 1000 + 250): 1,
        str(BASE * 1000 + 750): 2,
    }
    assert q.run(s, q.Query(base))[0]["dps"] == {str(BASE): 2}
    assert q.run(s, q.Query(dict(base, arrays=True, ms=True)))[0]["dps"] == [
        [BASE * 1000 + 250, 1],
        [BASE * 1000 + 750, 2],
    ]


def test_get_m_parameter_forms() -> None:
    d = q.subquery_from_m("sum:rate{counter,,1000}:1m-avg-zero:sys.cpu{host=*}{dc=regexp(l.*)}")
    assert d["aggregator"] == "sum"
    assert d["metric"] == "sys.cpu"
    assert d["downsample"] == "1m-avg-zero"
    assert d["rate"] is True and d["rateOptions"]["counter"] is True
    assert d["filters"] == [
        {"type": "wildcard", "tagk": "host", "filter": "*", "groupBy": True},
        {"type": "regexp", "tagk": "dc", "filter": "l.*", "groupBy": False},
    ]
    assert q.subquery_from_m("avg:m") == {"aggregator": "avg", "metric": "m"}


def test_unknown_metric_aggregator_filter_are_400(store: Store) -> None:
    with pytest.raises(ApiError, match="No such name for 'metrics'"):
        q.run(store, q.Query({"start": 1, "queries": [{"metric": "nope"}]}))
    with pytest.raises(ApiError, match="No such aggregator"):
        run(store, aggregator="bogus")
    with pytest.raises(ApiError, match="No such filter type"):
        run(store, filters=[{"type": "fuzzy", "tagk": "host", "filter": "a"}])
    with pytest.raises(ApiError, match="invalid escape"):  # RE2: no backreferences
        run(store, filters=[{"type": "regexp", "tagk": "host", "filter": r"(a)\1"}])
    with pytest.raises(ApiError, match="Invalid regular expression"):
        run(store, filters=[{"type": "regexp", "tagk": "host", "filter": "("}])


def test_two_stores_on_one_file_share_series_ids(tmp_path: Path) -> None:
    """A second process on the same database finds the series the first one made."""
    a = Store(tmp_path / "two.sqlite")
    b = Store(tmp_path / "two.sqlite")
    a.insert([("m", {"k": "v"}, 1000, 1)])
    b.insert([("m", {"k": "v"}, 2000, 2), ("m", {"k": "w"}, 2000, 3)])
    c = Store(tmp_path / "two.sqlite")
    assert sorted((s.metric, tuple(s.tags.items())) for s in c.all_series()) == [
        ("m", (("k", "v"),)),
        ("m", (("k", "w"),)),
    ]
    assert list(c.iter_all()) == [
        ("m", {"k": "v"}, 1000, 1),
        ("m", {"k": "v"}, 2000, 2),
        ("m", {"k": "w"}, 2000, 3),
    ]
