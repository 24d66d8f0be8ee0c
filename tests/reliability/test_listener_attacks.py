"""The agent's ``http_listener`` source under hostile boards and clients.

Before the fix: a non-ASCII token dropped the connection with a traceback
instead of a 401; a point too large for the spool got 503, so a board
retried it forever; every connection got a thread with no time limit. Each
test drives the real agent over loopback sockets and reads the accepted
points back from what its upstream (a scripted server) received.
"""

from __future__ import annotations

import base64
import io
import json
import socket
import threading
import time
from pathlib import Path

import pytest

from support.badserver import BadServer
from support.ports import free_port
from tspush.host.agent import Agent, Logger
from tspush.host.agent_config import load

from .agentproc import wait_until
from .figures import record

TOKEN = "clé-été-ünïcode-42"  # a device token with non-ASCII letters, in a file


def _start(tmp_path: Path, upstream: str, **listener: object) -> tuple[Agent, str, io.StringIO]:
    port = free_port()
    tf = tmp_path / "device-token"
    tf.write_text(TOKEN + "\n", encoding="utf-8")
    tf.chmod(0o600)
    extra = "\n".join(f"{k} = {v}" for k, v in listener.items())
    cfg_path = tmp_path / "agent.toml"
    cfg_path.write_text(
        f"""
[agent]
self_metrics_interval_s = 0
[spool]
dir = "{tmp_path / "spool"}"
[[sources]]
type = "http_listener"
listen = "127.0.0.1:{port}"
token_file = "{tf}"
{extra}
[[outputs]]
url = "{upstream}"
profile = "victoriametrics"
flush_interval_s = 0.1
flush_jitter_s = 0
""",
        encoding="utf-8",
    )
    cfg = load(cfg_path)
    stream = io.StringIO()
    agent = Agent(cfg, log=Logger(stream, secrets=cfg.secrets()))
    agent.start()
    return agent, f"127.0.0.1:{port}", stream


def _request(
    addr: str, body: bytes, auth: bytes | None, timeout_s: float = 30
) -> tuple[int, bytes]:
    """One raw POST; the header bytes go out exactly as given (no client-side encoding)."""
    host, port = addr.split(":")
    with socket.create_connection((host, int(port)), timeout=timeout_s) as s:
        head = b"POST /api/put HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        if auth is not None:
            head += b"Authorization: " + auth + b"\r\n"
        head += b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
        s.sendall(head + body)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def _basic(user: bytes, password: bytes) -> bytes:
    return b"Basic " + base64.b64encode(user + b":" + password)


def _accepted(srv: BadServer) -> list[dict[str, object]]:
    return [d for r in srv.requests if r.behaviour == "ok" for d in json.loads(r.body)]


def _point(i: int, **tags: str) -> dict[str, object]:
    return {"metric": "lan.t", "timestamp": 1710000000 + i, "value": i, "tags": tags}


def test_non_ascii_tokens_get_401_or_204_never_a_traceback(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with BadServer(then="ok") as srv:
        agent, addr, stream = _start(tmp_path, srv.url)
        try:
            body = json.dumps([_point(0)]).encode()
            refused = [
                b"Bearer \xff\xfe\xe9t\xe9",  # latin-1 bytes, not the token
                b"Bearer " + "clé-été-ünïcode-43".encode(),  # UTF-8, one character off
                b"Basic \xe9\xe9\xe9",  # not base64
                _basic(b"DESC", "clé".encode()),
                _basic(b"\xff", b"\xff\xfe"),  # not UTF-8 inside
                b"Digest \xe9",
            ]
            answers = [_request(addr, body, a)[0] for a in refused]
            ok = [
                _request(addr, json.dumps([_point(1)]).encode(), b"Bearer " + TOKEN.encode()),
                _request(addr, json.dumps([_point(2)]).encode(), _basic(b"DESC", TOKEN.encode())),
                _request(addr, json.dumps([_point(3)]).encode(), _basic(b"any", TOKEN.encode())),
            ]
            assert wait_until(lambda: len(_accepted(srv)) >= 3, 60)
        finally:
            agent.stop(flush_s=2)
    assert answers == [401] * len(refused)
    assert [s for s, _ in ok] == [204, 204, 204]
    assert sorted(d["value"] for d in _accepted(srv)) == [1, 2, 3]  # type: ignore[type-var]
    out, err = capfd.readouterr()
    for text in (out, err, stream.getvalue()):
        assert "Traceback" not in text and TOKEN not in text, text


def test_a_point_too_large_for_the_spool_is_refused_with_its_reason(tmp_path: Path) -> None:
    with BadServer(then="ok") as srv:
        agent, addr, stream = _start(tmp_path, srv.url)
        auth = b"Bearer " + TOKEN.encode()
        try:
            huge = _point(1, big="x" * 70_000)  # fits the 1 MiB body, not one spool record
            body = json.dumps([_point(0), huge]).encode()
            first = _request(addr, body, auth)
            again = _request(addr, json.dumps([huge]).encode(), auth)  # a board retrying
            assert wait_until(lambda: len(_accepted(srv)) >= 1, 60)
            too_long = _request(addr, b"[" + b" " * (2 << 20) + b"]", auth)
        finally:
            agent.stop(flush_s=2)
    assert first[0] == 400, first
    details = json.loads(first[1])
    assert details["success"] == 1 and details["failed"] == 1
    reason = details["errors"][0]["error"]
    assert "over the 65536-byte limit of one point" in reason and "shorten" in reason
    assert len(first[1]) < 2000  # the answer names the point, it does not repeat 70 kB
    assert again[0] == 400  # never 503: a board would retry it forever
    assert too_long[0] == 413 and b"at most 1048576 bytes" in too_long[1]
    assert [d["value"] for d in _accepted(srv)] == [0]  # the good point of the body went on
    record("listener_oversized_point", status=first[0], retried_status=again[0])


def test_connections_are_bounded_in_number(tmp_path: Path) -> None:
    with BadServer(then="ok") as srv:
        agent, addr, stream = _start(tmp_path, srv.url, max_connections=4, timeout_s=60)
        host, port = addr.split(":")
        auth = b"Bearer " + TOKEN.encode()
        threads_before = threading.active_count()
        idle: list[socket.socket] = []
        try:
            for _ in range(40):  # 40 clients that connect and never send a byte
                idle.append(socket.create_connection((host, int(port)), timeout=30))
            # the slots are taken: a new client is told to come back, at once
            busy = [_request(addr, b"[]", auth) for _ in range(3)]
            extra_threads = threading.active_count() - threads_before
            for s in idle:  # the idle clients leave: their slots come free
                s.close()
            assert wait_until(
                lambda: _request(addr, json.dumps([_point(7)]).encode(), auth)[0] == 204, 60
            )
            assert wait_until(lambda: len(_accepted(srv)) >= 1, 60)
        finally:
            for s in idle:
                s.close()
            agent.stop(flush_s=2)
        listener = agent.runners[0].source
    assert [b[0] for b in busy] == [503, 503, 503]
    assert b"too many connections" in busy[0][1]
    assert listener.busy_refused >= 39  # type: ignore[attr-defined]
    assert extra_threads <= 4  # one thread per allowed connection, no more
    assert [d["value"] for d in _accepted(srv)] == [7]
    record("listener_connections", idle_clients=40, extra_threads=extra_threads)


def test_connections_are_bounded_in_time(tmp_path: Path) -> None:
    with BadServer(then="ok") as srv:
        agent, addr, stream = _start(tmp_path, srv.url, timeout_s=0.5)
        host, port = addr.split(":")
        try:
            idle = socket.create_connection((host, int(port)), timeout=30)
            t0 = time.monotonic()
            closed = wait_until(lambda: _closed(idle), 60)
            idle_s = time.monotonic() - t0
            idle.close()
            # one byte per 0.25 s, inside the read timeout: cut when the connection
            # has lived 3 x timeout_s
            slow = socket.create_connection((host, int(port)), timeout=30)
            lived = _trickle_until_cut(slow, 60)
            slow.close()
            status, _ = _request(
                addr, json.dumps([_point(8)]).encode(), b"Bearer " + TOKEN.encode()
            )
            assert wait_until(lambda: len(_accepted(srv)) >= 1, 60)
        finally:
            agent.stop(flush_s=2)
    assert closed and lived is not None, (closed, lived)
    assert status == 204
    assert [d["value"] for d in _accepted(srv)] == [8]
    record("listener_timeouts", idle_closed_s=round(idle_s, 2), trickle_cut_s=round(lived, 2))


def _closed(s: socket.socket) -> bool:
    s.settimeout(0.05)
    try:
        return s.recv(1024) == b""  # closed by the server (or its 503 then closed)
    except TimeoutError:
        return False
    except OSError:
        return True


def _trickle_until_cut(s: socket.socket, bound_s: float) -> float | None:
    t0 = time.monotonic()
    head = b"POST /api/put HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 10_000
    for b in head:
        if time.monotonic() - t0 > bound_s:
            return None
        try:
            s.sendall(bytes([b]))
        except OSError:
            return time.monotonic() - t0
        if _closed(s):
            return time.monotonic() - t0
        time.sleep(0.25)
    return None
