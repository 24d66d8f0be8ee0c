"""The fault proxy and the bad server do what they claim (the other tests lean on them)."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from support.badserver import BadServer
from support.faultproxy import FaultProxy, Faults
from support.ports import free_port


class EchoServer:
    """A TCP echo server: whatever arrives goes straight back."""

    def __init__(self) -> None:
        self.port = free_port()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.stop_ev = threading.Event()
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        while not self.stop_ev.is_set():
            try:
                c, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._echo, args=(c,), daemon=True).start()

    def _echo(self, c: socket.socket) -> None:
        with c:
            while True:
                try:
                    d = c.recv(65536)
                except OSError:
                    return
                if not d:
                    return
                c.sendall(d)

    def close(self) -> None:
        self.stop_ev.set()
        self.sock.close()


@pytest.fixture
def echo():
    e = EchoServer()
    yield e
    e.close()


def _roundtrip(port: int, payload: bytes, timeout_s: float = 10) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
        s.sendall(payload)
        got = b""
        while len(got) < len(payload):
            d = s.recv(65536)
            if not d:
                break
            got += d
        return got


def test_proxy_delivers_every_byte_in_order_despite_delays_and_drops(echo):
    payload = bytes(range(256)) * 64  # 16 KiB, 12 segments of 1460
    f = Faults(delay_s=0.001, drop_rate=0.3, retransmit_s=0.02, seed=7)
    with FaultProxy(("127.0.0.1", echo.port), f) as p:
        assert _roundtrip(p.port, payload) == payload
        time.sleep(0.1)  # counters move just after the bytes do
        c = p.snapshot()
    assert c["bytes_up"] == len(payload) and c["bytes_down"] == len(payload)
    assert c["dropped"] > 0 and c["delayed"] > 0
    assert c["resets"] == 0


def test_proxy_resets_are_seen_by_the_client_and_counted(echo):
    with FaultProxy(("127.0.0.1", echo.port), Faults(reset_rate=1.0)) as p:
        with socket.create_connection(("127.0.0.1", p.port), timeout=5) as s:
            s.sendall(b"hello")
            with pytest.raises((ConnectionResetError, BrokenPipeError)):
                for _ in range(50):
                    if not s.recv(10):
                        raise ConnectionResetError("closed")
        time.sleep(0.1)
        c = p.snapshot()
    assert c["resets"] == 1
    assert c["bytes_up"] == 0


def test_cut_resets_open_connections_and_refuses_new_ones_then_heals(echo):
    with FaultProxy(("127.0.0.1", echo.port)) as p:
        s = socket.create_connection(("127.0.0.1", p.port), timeout=5)
        s.sendall(b"x")
        assert s.recv(1) == b"x"
        s.sendall(b"y")  # request sent, echo owed: the cut makes it ambiguous
        time.sleep(0.0)
        p.cut(0.5)
        with pytest.raises(OSError):
            for _ in range(50):
                if not s.recv(10):
                    raise ConnectionResetError("closed")
                time.sleep(0.01)
        s.close()
        with pytest.raises(OSError):
            _roundtrip(p.port, b"during the cut")
        time.sleep(0.6)
        assert _roundtrip(p.port, b"after") == b"after"
        c = p.snapshot()
    assert c["cuts"] == 1 and c["refused_during_cut"] >= 1


def test_blackhole_cut_makes_clients_time_out(echo):
    with FaultProxy(("127.0.0.1", echo.port)) as p:
        p.cut(2.0, mode="blackhole")
        with pytest.raises(TimeoutError):
            _roundtrip(p.port, b"hello?", timeout_s=0.5)


def _http(port: int, timeout_s: float = 5) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
        s.sendall(b"POST /api/put HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n[]")
        got = b""
        while True:
            d = s.recv(65536)
            if not d:
                return got
            got += d
            if len(got) > 100_000:
                return got


def test_bad_server_behaves_as_scripted():
    script = ["ok", "half", "short", "garbage", "close", "reset"]
    with BadServer(script=script, then="never") as srv:
        assert _http(srv.port).startswith(b"HTTP/1.1 204 X\r\n")
        assert _http(srv.port).endswith(b"Content-Length: 1000\r\n\r\n0123456789")
        assert _http(srv.port).endswith(b"{}trailing-junk-after-the-body")
        assert len(_http(srv.port)) == srv.garbage_bytes
        assert _http(srv.port) == b""
        with pytest.raises(ConnectionResetError):
            _http(srv.port)
        with pytest.raises(TimeoutError):
            _http(srv.port, timeout_s=0.5)
        assert srv.behaviours_seen() == [*script, "never"]
        assert all(r.body == b"[]" for r in srv.requests)


def test_bad_server_huge_body_is_streamed_until_the_client_leaves():
    with BadServer(then="huge") as srv:
        assert len(_http(srv.port)) > 100_000
        time.sleep(0.2)
        assert 100_000 < srv.huge_sent_bytes < 1 << 30
