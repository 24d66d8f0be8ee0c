"""Bad requests get the right status and OpenTSDB's error object; nothing stored is lost.

One receiver with small limits takes every kind of bad input in turn; after
each, the points stored at the start are all still there and it still answers.
"""

from __future__ import annotations

import gzip
import json
import random
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3

from support.receiver import ReceiverProcess

T = 1_700_000_000
GOOD = [{"metric": "kept.v", "timestamp": T + i, "value": i, "tags": {"k": "v"}} for i in range(10)]


@pytest.fixture(scope="module")
def rx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReceiverProcess]:
    with ReceiverProcess(
        tmp_path_factory.mktemp("bad"),
        "--max-body-bytes",
        "4096",
        "--max-points",
        "20",
        "--max-name-chars",
        "64",
        "--body-timeout",
        "1",
    ) as r:
        r_ = urllib3.request(
            "POST", r.url + "/api/put", body=json.dumps(GOOD).encode(), headers=r.write_headers()
        )
        assert r_.status == 204
        yield r


def send(
    rx: ReceiverProcess,
    body: bytes,
    path: str = "/api/put",
    method: str = "POST",
    headers: dict[str, str] | None = None,
    auth: bool = True,
) -> tuple[int, dict[str, Any]]:
    h = dict(rx.write_headers()) if auth else {}
    h["Content-Type"] = "application/json"
    h.update(headers or {})
    r = urllib3.request(method, rx.url + path, body=body, headers=h, retries=False)
    return r.status, (json.loads(r.data) if r.data else {})


def assert_all_kept(rx: ReceiverProcess) -> None:
    """The first ten points, exactly; the server still answers."""
    r = urllib3.request(
        "GET", rx.url + f"/api/query?start={T}&m=sum:kept.v", headers=rx.read_headers()
    )
    assert r.status == 200
    assert json.loads(r.data)[0]["dps"] == {str(T + i): i for i in range(10)}


def assert_error(doc: dict[str, Any], code: int, words: str) -> None:
    assert set(doc) == {"error"}, doc
    assert doc["error"]["code"] == code
    text = doc["error"]["message"] + " " + doc["error"].get("details", "")
    assert words.lower() in text.lower(), text


CASES = [
    ("malformed json", b'[{"metric": "x", "value": 1,', {}, 400, "Unable to parse"),
    ("not json at all", b"universe 42", {}, 400, "Unable to parse"),
    ("a number", b"42", {}, 400, "expected a data point"),
    ("empty array", b"[]", {}, 400, "No data points"),
    ("empty body", b"", {}, 400, "Missing request content"),
    ("nested too deep", b"[" * 1500 + b"]" * 1500, {}, 400, "Unable to parse"),
    (
        "too many points",
        json.dumps([{"metric": "many", "timestamp": T, "value": i} for i in range(21)]).encode(),
        {},
        413,
        "at most 20",
    ),
    ("oversized body", b"[" + b" " * 5000 + b"]", {}, 413, "too large"),
    ("bad gzip", b"\x1f\x8b\x08\x00garbage", {"Content-Encoding": "gzip"}, 400, "decompress"),
    (
        "truncated gzip",
        gzip.compress(json.dumps(GOOD).encode())[:-12],
        {"Content-Encoding": "gzip"},
        400,
        "truncated",
    ),
    (
        "gzip bomb",
        gzip.compress(b"[" + b" " * (4096 * 17) + b"]"),
        {"Content-Encoding": "gzip"},
        413,
        "Decompressed body too large",
    ),
    ("unknown encoding", b"[]", {"Content-Encoding": "br"}, 415, "Content-Encoding"),
]


@pytest.mark.parametrize("name,body,headers,status,words", CASES, ids=[c[0] for c in CASES])
def test_bad_bodies(
    rx: ReceiverProcess, name: str, body: bytes, headers: dict[str, str], status: int, words: str
) -> None:
    got, doc = send(rx, body, headers=headers)
    assert got == status, doc
    assert_error(doc, status, words)
    assert_all_kept(rx)


def test_wrong_types_per_point_are_reported_and_good_ones_stored(rx: ReceiverProcess) -> None:
    pts: list[Any] = [
        {"metric": "types.v", "timestamp": T, "value": [1]},
        {"metric": "types.v", "timestamp": "soon", "value": 1},
        {"metric": "types.v", "timestamp": T, "value": True},
        {"metric": 5, "timestamp": T, "value": 1},
        {"metric": "types.v", "timestamp": T, "value": 1, "tags": ["a"]},
        {"metric": "types.v", "timestamp": T, "value": 2**63},
        {"metric": "types.v", "timestamp": T, "value": 1, "tags": {"k": "x" * 65}},
        {"metric": "m" * 65, "timestamp": T, "value": 1},
        "a string",
        {"metric": "types.v", "timestamp": T + 1, "value": 1.5, "tags": {"k": "v"}},
    ]
    got, doc = send(rx, json.dumps(pts).encode(), path="/api/put?details")
    assert got == 400
    assert doc["success"] == 1 and doc["failed"] == 9
    assert [e["datapoint"] for e in doc["errors"]] == pts[:9]
    r = urllib3.request(
        "GET", rx.url + f"/api/query?start={T}&m=sum:types.v", headers=rx.read_headers()
    )
    assert json.loads(r.data)[0]["dps"] == {str(T + 1): 1.5}
    assert_all_kept(rx)


def test_tokens(rx: ReceiverProcess) -> None:
    body = json.dumps([{"metric": "tok.v", "timestamp": T, "value": 1}]).encode()
    got, doc = send(rx, body, auth=False)
    assert got == 401
    assert_error(doc, 401, "Missing token")
    got, doc = send(rx, body, headers={"Authorization": "Bearer wrong"})
    assert got == 401
    assert_error(doc, 401, "Invalid token")
    got, doc = send(rx, body, headers=rx.read_headers())  # the read token cannot write
    assert got == 401
    got, doc = send(rx, body, headers={"Authorization": "Basic !!notbase64"})
    assert got == 401
    got, doc = send(rx, b"", "/api/suggest?type=metrics", "GET")  # the write token cannot read
    assert got == 401
    r = urllib3.request("GET", rx.url + "/api/suggest?type=metrics")
    assert r.status == 401 and r.headers["WWW-Authenticate"].startswith("Basic")
    assert rx.write_token not in r.data.decode()
    got, _ = send(rx, b"", f"/api/query?start={T}&m=sum:tok.v", "GET", rx.read_headers())
    assert got == 400  # nothing was stored: no such metric
    assert_all_kept(rx)


def test_wrong_method_and_path_and_bad_queries(rx: ReceiverProcess) -> None:
    got, doc = send(rx, b"", "/api/put", "GET")
    assert got == 405
    assert_error(doc, 405, "Method not allowed")
    got, doc = send(rx, b"", "/api/nothing", "GET")
    assert_error(doc, 404, "not found")
    for body in (b"{", b"[]", b'{"start":"x","queries":[]}', b'{"start":1,"queries":[{}]}'):
        got, doc = send(rx, body, "/api/query", headers=rx.read_headers())
        assert got == 400
        assert doc["error"]["code"] == 400
    assert_all_kept(rx)


def test_garbage_on_the_socket_does_not_stop_the_server(rx: ReceiverProcess) -> None:
    for junk in (
        b"\x00\xff\r\n\r\n",
        b"POST /api/put HTTP/1.1\r\nContent-Length: 99\r\n\r\n[",
        b"GET / HTTP/9.9\r\n\r\n",
        b"X" * 70000,
    ):
        with socket.create_connection(("127.0.0.1", rx.port), timeout=5) as s:
            s.sendall(junk)
            s.shutdown(socket.SHUT_WR)
            try:
                while s.recv(65536):
                    pass
            except OSError:
                pass
    assert_all_kept(rx)
    assert rx.proc is not None and rx.proc.poll() is None
    assert "Traceback" not in rx.text


def test_slow_body_gets_408_and_the_server_goes_on(rx: ReceiverProcess) -> None:
    with socket.create_connection(("127.0.0.1", rx.port), timeout=10) as s:
        auth = rx.write_headers()["Authorization"]
        s.sendall(
            b"POST /api/put HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
            + b"Authorization: "
            + auth.encode()
            + b"\r\n\r\n[{"
        )
        reply = b""
        while b"}}" not in reply:  # headers and body may come in separate segments
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 408 ")
    assert b'"code":408' in reply
    assert_all_kept(rx)


def test_disk_full_is_503_retry_later_and_nothing_half_stored(tmp_path: Path) -> None:
    """Writes past RLIMIT_FSIZE fail with EFBIG (Python ignores SIGXFSZ): a full disk."""
    import resource

    limit = 256 * 1024

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    with ReceiverProcess(tmp_path, preexec_fn=small_files) as rx:
        stored = 0
        status = 204
        rng = random.Random(3)
        # up to 100,000 random floats: 800 KB however well stored, far past the limit
        for r in range(2000):
            body = json.dumps(
                [
                    {
                        "metric": "full.v",
                        "timestamp": T + r * 50 + i,
                        "value": rng.random(),  # random bits: about 8 B each, compressed
                        "tags": {"k": "v%d" % (i % 7)},
                    }
                    for i in range(50)
                ]
            ).encode()
            status, doc = send(rx, body)
            if status != 204:
                break
            stored += 50
        assert status == 503, doc
        assert_error(doc, 503, "cannot be written")
        assert stored > 0
        r_ = urllib3.request(
            "GET",
            rx.url + f"/api/query?start={T}&end={T + 20000}&m=sum:full.v",
            headers=rx.read_headers(),
        )
        assert r_.status == 200, rx.text[-3000:]  # still serving reads
        assert len(json.loads(r_.data)[0]["dps"]) == stored  # every acknowledged point
        again = urllib3.request("POST", rx.url + "/api/put", body=body, headers=rx.write_headers())
        assert again.status == 503 and again.headers["Retry-After"] == "10"
        assert "Traceback" not in rx.text


def test_strict_refuses_bodies_stock_opentsdb_refuses(tmp_path: Path) -> None:
    """Stock OpenTSDB: over 8192 bytes or chunked is 'Chunked request not supported.'"""
    pts = [
        {"metric": "stock.v", "timestamp": T + i, "value": i, "tags": {"host": "a"}}
        for i in range(200)
    ]
    small = json.dumps(pts[:50]).encode()
    big = json.dumps(pts).encode()
    assert len(small) <= 8192 < len(big)
    with ReceiverProcess(tmp_path, "--strict") as rx:
        assert send(rx, small)[0] == 204
        status, doc = send(rx, big)
        assert status == 400
        assert_error(doc, 400, "Chunked request not supported.")
        r = urllib3.request(
            "POST",
            rx.url + "/api/put",
            body=iter([small]),
            headers={**rx.write_headers(), "Transfer-Encoding": "chunked"},
        )
        assert r.status == 400 and b"Chunked request not supported." in r.data
        assert send(rx, gzip.compress(big), headers={"Content-Encoding": "gzip"})[0] == 204
        r = urllib3.request(
            "GET", rx.url + f"/api/query?start={T}&m=sum:stock.v", headers=rx.read_headers()
        )
        assert len(json.loads(r.data)[0]["dps"]) == 200
    with ReceiverProcess(tmp_path / "lenient") as rx:
        assert send(rx, big)[0] == 204  # the default takes what OVH and VictoriaMetrics take


def test_series_cap_refuses_new_series_only(tmp_path: Path) -> None:
    with ReceiverProcess(tmp_path, "--max-series", "3") as rx:
        first = [
            {"metric": "card.v", "timestamp": T, "value": i, "tags": {"t": str(i)}}
            for i in range(2)
        ]
        assert send(rx, json.dumps(first).encode())[0] == 204
        # a tag that changes with every reading: one new series per point
        more = [
            {"metric": "card.v", "timestamp": T + 1, "value": i, "tags": {"t": str(i)}}
            for i in range(6)
        ]
        status, doc = send(rx, json.dumps(more).encode(), "/api/put?details")
        assert status == 400
        assert (doc["success"], doc["failed"]) == (3, 3)
        assert [e["datapoint"]["tags"]["t"] for e in doc["errors"]] == ["3", "4", "5"]
        assert "--max-series" in doc["errors"][0]["error"]
        r = urllib3.request(
            "GET", rx.url + f"/api/query?start={T}&m=none:card.v", headers=rx.read_headers()
        )
        got = {x["tags"]["t"]: x["dps"] for x in json.loads(r.data)}
        assert got == {
            "0": {str(T): 0, str(T + 1): 0},
            "1": {str(T): 1, str(T + 1): 1},
            "2": {str(T + 1): 2},
        }


def test_client_hanging_up_mid_body_is_no_error_in_the_log(rx: ReceiverProcess) -> None:
    for path in ("/api/put", "/api/query"):
        with socket.create_connection(("127.0.0.1", rx.port), timeout=5) as s:
            s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n[{{".encode())
            time.sleep(0.2)
    time.sleep(0.3)
    assert_all_kept(rx)
    assert "Traceback" not in rx.text and "ClientDisconnect" not in rx.text
