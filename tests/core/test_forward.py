"""The forwarding loop against a scripted server function: every answer class."""

import binascii
import json
import os

from transport import Response

from tspush.core import forward
from tspush.core.errors import ConnectError
from tspush.core.point import Point
from tspush.core.retry import Retry
from tspush.core.spool import Spool


def _fresh(name):
    path = "/tmp/tspush-fwd-%s-%s" % (name, binascii.hexlify(os.urandom(4)).decode())
    os.mkdir(path)
    return path


def _rmtree(path):
    for n in os.listdir(path):
        os.remove(path + "/" + n)
    os.rmdir(path)


def _pts(n, start=0):
    return [Point("m", i, 1700000000 + i, {"k": "v"}) for i in range(start, start + n)]


class Server:
    """A test transport (``send(Request)``): stores what it accepts; ``answer(points,
    details)`` returns (status, headers, body) or None."""

    def __init__(self, answer=None):
        self.answer = answer
        self.stored = []
        self.bodies = []
        self.details = []

    def __call__(self, request):
        body = request.body
        details = request.path.endswith("?details")
        self.bodies.append(body)
        self.details.append(details)
        docs = json.loads(body)
        if self.answer is not None:
            r = self.answer(docs, details)
            if r is not None:
                return Response(*r)
        self.stored.extend(d["value"] for d in docs)
        return Response(204)


class Log:
    def __init__(self):
        self.lines = []

    def __call__(self, level, message):
        self.lines.append((level, message))


def _fwd(spool, send, **kw):
    kw.setdefault("retry", Retry(backoff_s=1, factor=2, cap_s=60, jitter=0))
    kw.setdefault("log", Log())
    kw.setdefault("path", "/api/put?details" if kw.get("details") else "/api/put")
    return forward.Forwarder(spool, "default", send, clock=lambda: 5000, **kw)


def _drain(f, limit=100):
    outcomes = []
    for _ in range(limit):
        o, _ = f.step()
        if o == forward.EMPTY:
            return outcomes
        outcomes.append(o)
    raise AssertionError("did not drain")


def test_sent_points_are_acked_once_in_order_with_exact_body():
    d = _fresh("ok")
    try:
        s = Spool(d)
        s.append(_pts(120))
        srv = Server()
        f = _fwd(s, srv, max_points=50)
        assert _drain(f) == [forward.SENT] * 3
        assert srv.stored == list(range(120))
        assert srv.bodies[0].startswith(
            b'[{"metric":"m","timestamp":1700000000,"value":0,"tags":{"k":"v"}},'
        )
        assert f.sent_points == 120 and f.sent_requests == 3 and f.last_success_s == 5000
        assert s.pending("default") == 0
        s.close()
    finally:
        _rmtree(d)


def test_bodies_stay_under_max_bytes():
    d = _fresh("bytes")
    try:
        s = Spool(d)
        s.append(_pts(100))
        srv = Server()
        f = _fwd(s, srv, max_points=1000, max_bytes=1000)
        _drain(f)
        assert srv.stored == list(range(100))
        assert max(len(b) for b in srv.bodies) <= 1000
        assert len(srv.bodies) < 12  # and they are reasonably full
        s.close()
    finally:
        _rmtree(d)


def test_5xx_and_network_errors_keep_and_back_off_honouring_retry_after():
    d = _fresh("retry")
    try:
        s = Spool(d)
        s.append(_pts(3))
        script = [
            (503, {}, b"busy"),
            (429, {"Retry-After": "30"}, b""),
            "net",
        ]

        def answer(docs, details):
            if script:
                r = script.pop(0)
                if r == "net":
                    raise ConnectError("connection refused")
                return r
            return None

        srv = Server(answer)
        log = Log()
        f = _fwd(s, srv, log=log)
        assert f.step() == (forward.KEPT, 1.0)
        assert f.step() == (forward.KEPT, 30.0)
        assert f.step() == (forward.KEPT, 4.0)
        assert f.retries == 3 and "connection refused" in f.last_error
        assert s.pending("default") == 3
        assert f.step() == (forward.SENT, 0.0)
        assert srv.stored == [0, 1, 2] and f.attempt == 0
        assert "3 point(s) kept" in log.lines[0][1]
        s.close()
    finally:
        _rmtree(d)


def test_rejected_token_keeps_everything_says_so_loudly_then_resumes():
    d = _fresh("auth")
    try:
        s = Spool(d)
        s.append(_pts(4))
        token_ok = [False]

        def answer(docs, details):
            if not token_ok[0]:
                return 401, {}, b"bad token c2VjcmV0"
            return None

        srv = Server(answer)
        srv.secrets = ["c2VjcmV0"]
        log = Log()
        f = _fwd(s, srv, log=log, retry=Retry(auth_backoff_s=120))
        assert f.step() == (forward.AUTH, 120.0)
        assert f.step() == (forward.AUTH, 120.0)
        assert f.auth_failed and s.pending("default") == 4 and srv.stored == []
        errors = [m for lv, m in log.lines if lv == "error"]
        assert len(errors) == 1 and "TOKEN IS REJECTED" in errors[0]
        assert "c2VjcmV0" not in f.last_error and "***" in f.last_error
        token_ok[0] = True
        assert f.step()[0] == forward.SENT
        assert srv.stored == [0, 1, 2, 3] and not f.auth_failed
        s.close()
    finally:
        _rmtree(d)


def test_413_splits_the_batch_and_remembers_a_smaller_size():
    d = _fresh("413")
    try:
        s = Spool(d)
        s.append(_pts(40))

        def answer(docs, details):
            if len(docs) > 8:
                return 413, {}, b"too big"
            return None

        srv = Server(answer)
        f = _fwd(s, srv, max_points=40)
        _drain(f)
        assert sorted(srv.stored) == list(range(40)) and len(srv.stored) == 40
        assert f.max_points <= 10
        s.close()
    finally:
        _rmtree(d)


def test_400_with_details_dead_letters_only_the_named_points():
    d = _fresh("details")
    try:
        s = Spool(d)
        s.append(_pts(10))

        def answer(docs, details):
            assert details
            bad = [x for x in docs if x["value"] in (3, 7)]
            good = [x for x in docs if x["value"] not in (3, 7)]
            srv.stored.extend(x["value"] for x in good)
            errs = [{"datapoint": x, "error": "value %d is cursed" % x["value"]} for x in bad]
            return 400, {}, json.dumps({"success": len(good), "failed": 2, "errors": errs}).encode()

        srv = Server(answer)
        f = _fwd(s, srv, details=True)
        assert f.step()[0] == forward.SENT
        assert len(srv.bodies) == 1  # one request: the server named the bad points
        assert srv.stored == [0, 1, 2, 4, 5, 6, 8, 9]
        lines = open(d + "/dead-letter.jsonl").read().splitlines()
        docs = [json.loads(x) for x in lines]
        assert [(x["point"]["value"], x["reason"]) for x in docs] == [
            (3, "value 3 is cursed"),
            (7, "value 7 is cursed"),
        ]
        assert f.dead_letters == 2 and s.pending("default") == 0
        s.close()
    finally:
        _rmtree(d)


def test_400_without_details_bisects_to_the_bad_point():
    d = _fresh("bisect")
    try:
        s = Spool(d)
        s.append(_pts(16))

        def answer(docs, details):
            if any(x["value"] == 11 for x in docs):
                return 400, {}, b'{"error":{"code":400,"message":"bad value"}}'
            return None

        srv = Server(answer)
        f = _fwd(s, srv, max_points=16)
        assert f.step()[0] == forward.SENT
        assert sorted(srv.stored) == [i for i in range(16) if i != 11]
        doc = json.loads(open(d + "/dead-letter.jsonl").read())
        assert doc["point"]["value"] == 11 and "bad value" in doc["reason"]
        s.close()
    finally:
        _rmtree(d)


def test_a_point_too_large_alone_is_dead_lettered_not_blocking():
    d = _fresh("big")
    try:
        s = Spool(d)
        s.append([Point("m", 1, 1700000000, {"t": "x" * 400})] + _pts(2, 5))
        srv = Server()
        f = _fwd(s, srv, max_bytes=300)
        _drain(f)
        assert srv.stored == [5, 6]
        assert "over max_bytes 300" in open(d + "/dead-letter.jsonl").read()
        s.close()
    finally:
        _rmtree(d)


def test_a_crash_while_sending_leaves_the_batch_in_the_spool():
    d = _fresh("crash")
    try:
        s = Spool(d)
        s.append(_pts(5))

        def boom(request):
            raise KeyboardInterrupt()

        f = _fwd(s, boom)
        try:
            f.step()
        except KeyboardInterrupt:
            pass
        s2 = Spool(d)
        srv = Server()
        _drain(_fwd(s2, srv))
        assert srv.stored == [0, 1, 2, 3, 4]
        s2.close()
        s.close()
    finally:
        _rmtree(d)
