"""The requests Grafana's OpenTSDB data source makes, answered in the shapes it parses.

Grafana sends ``start``/``end`` in milliseconds, one sub query per panel
target with ``filters``, ``downsample`` and ``aggregator``, and reads
``metric``, ``tags``, ``aggregateTags`` and ``dps`` (a map of second -> number).
Its query editor fills metric names from ``/api/suggest`` and tag values
from ``/api/search/lookup``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from support.receiver import ReceiverProcess

BASE = 1_699_999_980  # a minute boundary


@pytest.fixture(scope="module")
def rx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReceiverProcess]:
    with ReceiverProcess(tmp_path_factory.mktemp("graf")) as r:
        pts = []
        for i in range(18):  # three minutes at 10 s
            for host, base in (("a", 0), ("b", 100)):
                pts.append(
                    {
                        "metric": "sys.cpu",
                        "timestamp": BASE + 10 * i,
                        "value": base + i,
                        "tags": {"host": host, "dc": "lga"},
                    }
                )
        pts.append({"metric": "sys.mem", "timestamp": BASE, "value": 1, "tags": {"host": "a"}})
        r_ = urllib3.request(
            "POST", r.url + "/api/put", body=json.dumps(pts).encode(), headers=r.write_headers()
        )
        assert r_.status == 204
        yield r


def get(rx: ReceiverProcess, path: str) -> Any:
    r = urllib3.request("GET", rx.url + path, headers=rx.read_headers())
    assert r.status == 200, r.data
    assert r.headers["Content-Type"].startswith("application/json")
    return json.loads(r.data)


def test_grafana_query_with_filters_downsample_aggregator(rx: ReceiverProcess) -> None:
    body = {
        "start": BASE * 1000,
        "end": (BASE + 179) * 1000,
        "queries": [
            {
                "metric": "sys.cpu",
                "aggregator": "sum",
                "downsample": "1m-avg",
                "filters": [
                    {"type": "wildcard", "tagk": "host", "filter": "*", "groupBy": True},
                    {"type": "literal_or", "tagk": "dc", "filter": "lga", "groupBy": False},
                ],
            }
        ],
    }
    r = urllib3.request(
        "POST",
        rx.url + "/api/query",
        body=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **rx.read_headers()},
    )
    assert r.status == 200
    res = json.loads(r.data)
    assert [set(x) for x in res] == [{"metric", "tags", "aggregateTags", "dps"}] * 2
    assert [(x["metric"], x["tags"], x["aggregateTags"]) for x in res] == [
        ("sys.cpu", {"host": "a", "dc": "lga"}, []),
        ("sys.cpu", {"host": "b", "dc": "lga"}, []),
    ]
    assert res[0]["dps"] == {str(BASE): 2.5, str(BASE + 60): 8.5, str(BASE + 120): 14.5}
    assert res[1]["dps"] == {str(BASE): 102.5, str(BASE + 60): 108.5, str(BASE + 120): 114.5}
    for x in res:  # Go's map[string]float64: string keys of whole seconds, numbers
        assert all(k.isdigit() and isinstance(v, int | float) for k, v in x["dps"].items())


def test_grafana_suggest_metrics_tagk_tagv(rx: ReceiverProcess) -> None:
    assert get(rx, "/api/suggest?type=metrics&q=&max=1000") == ["sys.cpu", "sys.mem"]
    assert get(rx, "/api/suggest?type=metrics&q=sys.c&max=1000") == ["sys.cpu"]
    assert get(rx, "/api/suggest?type=tagk&q=&max=1000") == ["dc", "host"]
    assert get(rx, "/api/suggest?type=tagv&q=&max=1") == ["a"]


def test_grafana_lookup_tag_values(rx: ReceiverProcess) -> None:
    doc = get(rx, "/api/search/lookup?m=sys.cpu{host=*}&limit=1000")
    assert doc["type"] == "LOOKUP" and doc["totalResults"] == 2
    assert sorted(r["tags"]["host"] for r in doc["results"]) == ["a", "b"]
    assert all(r["metric"] == "sys.cpu" for r in doc["results"])
    doc = get(rx, "/api/search/lookup?m=sys.cpu{host=b}")
    assert [r["tags"] for r in doc["results"]] == [{"host": "b", "dc": "lga"}]


def test_grafana_aggregators_filters_version(rx: ReceiverProcess) -> None:
    aggs = get(rx, "/api/aggregators")
    assert {"sum", "avg", "min", "max", "count", "none", "zimsum", "dev"} <= set(aggs)
    filters = get(rx, "/api/config/filters")
    assert {"literal_or", "wildcard", "regexp", "iliteral_or", "not_literal_or"} <= set(filters)
    assert all({"examples", "description"} <= set(v) for v in filters.values())
    assert get(rx, "/api/version")["version"].startswith("2.")


def test_grafana_get_query_with_rate_and_arrays(rx: ReceiverProcess) -> None:
    res = get(rx, f"/api/query?start={BASE}&end={BASE + 30}&m=sum:rate:sys.cpu{{host=a}}")
    assert res[0]["dps"] == {str(BASE + 10): 0.1, str(BASE + 20): 0.1, str(BASE + 30): 0.1}
    res = get(rx, f"/api/query?start={BASE}&end={BASE + 10}&m=max:sys.cpu&arrays=true")
    assert res[0]["dps"] == [[BASE, 100], [BASE + 10, 101]]


def test_query_last_get_and_post(rx: ReceiverProcess) -> None:
    doc = get(rx, "/api/query/last?timeseries=sys.cpu{host=a}&timeseries=sys.mem")
    assert sorted(
        (d["metric"], d["tags"].get("host"), d["timestamp"], d["value"]) for d in doc
    ) == [
        ("sys.cpu", "a", (BASE + 170) * 1000, "17"),
        ("sys.mem", "a", BASE * 1000, "1"),
    ]
    body = json.dumps({"queries": [{"metric": "sys.cpu", "tags": {"host": "b"}}], "backScan": 0})
    r = urllib3.request(
        "POST", rx.url + "/api/query/last", body=body.encode(), headers=rx.read_headers()
    )
    assert [(d["tags"]["host"], d["value"]) for d in json.loads(r.data)] == [("b", "117")]
    assert get(rx, "/api/query/last?timeseries=sys.cpu&back_scan=1") == []  # all older than 1 h


def test_stats_in_opentsdb_shape(rx: ReceiverProcess) -> None:
    stats = {d["metric"]: d for d in get(rx, "/api/stats")}
    assert stats["tspush.receiver.points.stored"]["value"] == "37"  # 36 sys.cpu + 1 sys.mem
    assert stats["tspush.receiver.series"]["value"] == "3"
    assert all(set(d) == {"metric", "timestamp", "value", "tags"} for d in stats.values())
