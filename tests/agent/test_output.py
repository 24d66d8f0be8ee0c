"""Each answer class against a real HTTPS server on loopback, through the real Transport."""

from __future__ import annotations

import gzip
import json
import threading
import time
from pathlib import Path

from helpers import Lines, output_config

from support.tls import RecordingServer, Request, make_certs
from tspush.core import forward
from tspush.core.point import Point
from tspush.core.retry import Retry
from tspush.core.spool import Spool
from tspush.host.output import Output

TOKEN = "agent-secret-token-42"


def _points(n: int, start: int = 0) -> list[Point]:
    return [Point("t.m", i, 1700000000 + i, {"k": "v"}) for i in range(start, start + n)]


def _values(req: Request) -> list[int]:
    body = req.body
    if req.header("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return [d["value"] for d in json.loads(body)]


def _setup(tmp_path: Path, srv: RecordingServer, **kw: object) -> tuple[Spool, Output, Lines]:
    spool = Spool(str(tmp_path / "spool"), outputs=["out"], lock=threading.RLock())
    log = Lines()
    certs = srv.certs
    assert certs is not None
    cfg = output_config(srv.url, token=TOKEN, ca_file=str(certs.ca_file), **kw)  # type: ignore[arg-type]
    out = Output(cfg, spool, log=log, dead_letter_path=tmp_path / "dead.jsonl")
    return spool, out, log


def test_2xx_acks_in_order_over_one_keep_alive_tls_connection(tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    with RecordingServer(tls=True, certs=certs) as srv:
        spool, out, _ = _setup(tmp_path, srv)
        spool.append(_points(120))
        while out.forwarder.step()[0] == forward.SENT:
            pass
        assert [v for r in srv.requests for v in _values(r)] == list(range(120))
        assert [len(_values(r)) for r in srv.requests] == [50, 50, 20]
        assert len(srv.connections) == 1  # keep-alive
        line, headers, _ = srv.requests[0]
        assert line == "POST /api/put HTTP/1.1"
        assert srv.requests[0].header("Authorization") == "Bearer " + TOKEN
        assert spool.pending("out") == 0
        out.transport.close()


def test_gzip_option_compresses_bodies(tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    with RecordingServer(tls=True, certs=certs) as srv:
        spool, out, _ = _setup(tmp_path, srv)
        out.transport.gzip = True
        spool.append(_points(5))
        assert out.forwarder.step()[0] == forward.SENT
        assert srv.requests[0].header("Content-Encoding") == "gzip"
        assert _values(srv.requests[0]) == [0, 1, 2, 3, 4]


def test_429_and_5xx_keep_and_honour_retry_after(tmp_path: Path) -> None:
    answers = [
        (429, {"Retry-After": "7"}, b"slow down"),
        (503, {}, b"maintenance"),
        (503, {"Retry-After": "99999999999"}, b"see you in 3000 years"),
    ]

    def responder(req: Request) -> tuple[int, dict[str, str], bytes]:
        return answers.pop(0) if answers else (204, {}, b"")

    certs = make_certs(tmp_path)
    with RecordingServer(tls=True, certs=certs, responder=responder) as srv:
        retry = Retry(backoff_s=0.05, factor=2, cap_s=60, jitter=0)
        spool, out, log = _setup(tmp_path, srv, retry=retry)
        spool.append(_points(3))
        assert out.forwarder.step() == (forward.KEPT, 7.0)
        outcome, wait_s = out.forwarder.step()
        assert outcome == forward.KEPT and wait_s == 0.1  # second back-off step
        assert "maintenance" in out.forwarder.last_error or "503" in out.forwarder.last_error
        assert out.forwarder.step() == (forward.KEPT, 60.0)  # Retry-After capped by cap_s
        assert spool.pending("out") == 3
        assert out.forwarder.step()[0] == forward.SENT
        assert [_values(r) for r in srv.requests] == [[0, 1, 2]] * 4
        assert out.forwarder.retries == 3


def test_network_failure_keeps_the_points(tmp_path: Path) -> None:
    from support.ports import free_port

    spool = Spool(str(tmp_path / "spool"), outputs=["out"], lock=threading.RLock())
    log = Lines()
    cfg = output_config("http://127.0.0.1:%d" % free_port())
    out = Output(cfg, spool, log=log)
    spool.append(_points(2))
    outcome, _ = out.forwarder.step()
    assert outcome == forward.KEPT and spool.pending("out") == 2
    assert "127.0.0.1" in out.forwarder.last_error


def test_401_keeps_everything_says_so_once_and_resumes_when_fixed(tmp_path: Path) -> None:
    good = {"token": False}

    def responder(req: Request) -> tuple[int, dict[str, str], bytes]:
        if not good["token"]:
            # vmauth-style: the server echoes the header it refused
            return 401, {}, ("bad header: %s" % req.header("Authorization")).encode()
        return 204, {}, b""

    certs = make_certs(tmp_path)
    with RecordingServer(tls=True, certs=certs, responder=responder) as srv:
        spool, out, log = _setup(tmp_path, srv)
        spool.append(_points(4))
        out.start()
        srv.wait_requests(3, timeout_s=60)
        assert spool.pending("out") == 4
        state = out.state()
        assert state["auth_failed"] is True
        errors = [m for lv, m, _ in log.lines if lv == "error"]
        assert len(errors) == 1 and "TOKEN IS REJECTED" in errors[0]
        assert TOKEN not in log.text() and TOKEN not in json.dumps(state)
        good["token"] = True
        deadline = time.monotonic() + 60
        while spool.pending("out") and time.monotonic() < deadline:
            time.sleep(0.05)
        out.stop()
        assert spool.pending("out") == 0
        assert _values(srv.requests[-1]) == [0, 1, 2, 3]
        assert "token is accepted again" in log.text()


def test_413_splits_and_every_point_arrives_once(tmp_path: Path) -> None:
    def responder(req: Request) -> tuple[int, dict[str, str], bytes]:
        return (413, {}, b"") if len(_values(req)) > 10 else (204, {}, b"")

    certs = make_certs(tmp_path)
    with RecordingServer(tls=True, certs=certs, responder=responder) as srv:
        spool, out, _ = _setup(tmp_path, srv)
        spool.append(_points(50))
        assert out.forwarder.step()[0] == forward.SENT
        accepted = [v for r in srv.requests if len(_values(r)) <= 10 for v in _values(r)]
        assert accepted == list(range(50))
        assert out.forwarder.max_points <= 25


def test_400_with_details_dead_letters_only_bad_points_with_the_reason(tmp_path: Path) -> None:
    def responder(req: Request) -> tuple[int, dict[str, str], bytes]:
        assert req.line.split()[1] == "/api/put?details"
        docs = json.loads(req.body)
        bad = [d for d in docs if d["value"] % 10 == 3]
        if not bad:
            return 204, {}, b""
        body = {
            "success": len(docs) - len(bad),
            "failed": len(bad),
            "errors": [{"datapoint": d, "error": "Unable to parse value"} for d in bad],
        }
        return 400, {"Content-Type": "application/json"}, json.dumps(body).encode()

    certs = make_certs(tmp_path)
    with RecordingServer(tls=True, certs=certs, responder=responder) as srv:
        spool, out, _ = _setup(tmp_path, srv, profile="tspush")
        spool.append(_points(30))
        assert out.forwarder.step()[0] == forward.SENT
        assert len(srv.requests) == 1
        dead = [json.loads(x) for x in (tmp_path / "dead.jsonl").read_text().splitlines()]
        assert [(d["point"]["value"], d["reason"], d["output"]) for d in dead] == [
            (3, "Unable to parse value", "out"),
            (13, "Unable to parse value", "out"),
            (23, "Unable to parse value", "out"),
        ]
        assert spool.pending("out") == 0 and out.state()["dead_letters"] == 3


def test_400_without_details_isolates_the_bad_point(tmp_path: Path) -> None:
    def responder(req: Request) -> tuple[int, dict[str, str], bytes]:
        assert "details" not in req.line
        if 7 in _values(req):
            return 400, {}, b'{"error":{"code":400,"message":"bad point"}}'
        return 204, {}, b""

    certs = make_certs(tmp_path)
    with RecordingServer(tls=True, certs=certs, responder=responder) as srv:
        spool, out, _ = _setup(tmp_path, srv)
        spool.append(_points(20))
        assert out.forwarder.step()[0] == forward.SENT
        ok = [v for r in srv.requests if 7 not in _values(r) for v in _values(r)]
        assert sorted(ok) == [i for i in range(20) if i != 7]
        dead = json.loads((tmp_path / "dead.jsonl").read_text())
        assert dead["point"]["value"] == 7 and "bad point" in dead["reason"]


def test_flush_interval_batches_and_a_full_batch_wakes_the_output(tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    with RecordingServer(tls=True, certs=certs) as srv:
        spool = Spool(str(tmp_path / "spool"), outputs=["out"], lock=threading.RLock())
        cfg = output_config(srv.url, token=TOKEN, ca_file=str(certs.ca_file), flush_interval_s=30)
        out = Output(cfg, spool, log=Lines())
        first_take = threading.Event()
        take = out.forwarder.take

        def watched_take(*a: object) -> object:
            first_take.set()
            return take(*a)  # type: ignore[arg-type]

        out.forwarder.take = watched_take  # type: ignore[method-assign]
        out.start()
        assert first_take.wait(60)  # the first (empty) step is done; now waiting 30 s
        spool.append(_points(10))
        time.sleep(0.3)
        assert srv.requests == []  # not full, interval not over: nothing sent yet
        spool.append(_points(45, 10))
        out.wake()
        srv.wait_requests(1, timeout_s=60)
        out.stop()
        assert _values(srv.requests[0]) == list(range(50))


def test_several_connections_ack_in_spool_order_whatever_answers_first(tmp_path: Path) -> None:
    import random

    rng = random.Random(7)
    fail_once = {5, 11}
    lock = threading.Lock()

    def responder(req: Request) -> tuple[int, dict[str, str], bytes]:
        time.sleep(rng.uniform(0, 0.03))  # answers overtake each other
        first = _values(req)[0]
        with lock:
            if first // 10 in fail_once:
                fail_once.discard(first // 10)
                return 503, {}, b"try again"
        return 204, {}, b""

    certs = make_certs(tmp_path)
    with RecordingServer(tls=True, certs=certs, responder=responder) as srv:
        spool = Spool(str(tmp_path / "spool"), outputs=["out"], lock=threading.RLock())
        cfg = output_config(srv.url, token=TOKEN, ca_file=str(certs.ca_file))
        cfg.connections = 4
        out = Output(cfg, spool, log=Lines())
        out.forwarder.max_points = 10
        for _, f in out.extra:
            f.max_points = 10
        spool.append(_points(200))
        out.start()
        deadline = time.monotonic() + 60
        while spool.pending("out") and time.monotonic() < deadline:
            time.sleep(0.05)
        out.stop()
        assert spool.pending("out") == 0
        sent = [v for r in srv.requests for v in _values(r)]
        assert sorted(set(sent)) == list(range(200))
        assert len(sent) == 200 + 20  # only the two refused batches went twice
        assert len(srv.connections) >= 2  # really several connections
        state = out.state()
        assert state["connections"] == 4 and state["sent_points"] == 200 and state["retries"] == 2
    # the cursor is at the end: a restart sends nothing again
    spool2 = Spool(str(tmp_path / "spool"), outputs=["out"])
    assert spool2.take("out") is None
