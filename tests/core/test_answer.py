"""The delivery engine against a test transport: send(Request) -> Response, every answer class."""

import json

from transport import Response

from tspush.core.answer import Request, deliver
from tspush.core.errors import AuthError, ConnectError, Rejected, Retryable, TooLarge
from tspush.core.response import judge, locate


class Server:
    """A test transport: stores what it accepts; ``answer(docs)`` may return a Response."""

    def __init__(self, answer=None):
        self.answer = answer
        self.requests = []
        self.stored = []

    def send(self, request):
        self.requests.append(request)
        docs = json.loads(request.body)
        if self.answer is not None:
            r = self.answer(docs)
            if r is not None:
                return r
        self.stored.extend(d["value"] for d in docs)
        return Response(204)


def _encode(items):
    return json.dumps([{"metric": "m", "value": v, "timestamp": 1700000000 + v} for v in items])


def _docs(items):
    return [{"metric": "m", "value": v, "timestamp": 1700000000 + v} for v in items]


def _refuse(bad, details):
    def answer(docs):
        errors = [{"datapoint": d, "error": "odd"} for d in docs if d["value"] in bad]
        if not errors:
            return None
        doc = {"success": len(docs) - len(errors), "failed": len(errors), "errors": errors}
        return Response(400, {}, json.dumps(doc) if details else "bad point")

    return answer


def test_2xx_delivers_with_the_request_as_given():
    srv = Server()
    seen = []
    h = {"Content-Type": "application/json"}
    note = lambda *a: seen.append(a)  # noqa: E731
    assert deliver(srv.send, [1, 2, 3], _encode, "/api/put", h, 0, None, (), "", note) == (
        3,
        [],
        None,
    )
    (r,) = srv.requests
    assert (r.path, r.headers, r.count, r.body) == ("/api/put", h, 3, _encode([1, 2, 3]))
    assert srv.stored == [1, 2, 3] and seen[0][2].status == 204 and seen[0][3] is None


def test_413_halves_in_order_and_a_point_too_large_alone_is_refused():
    srv = Server(lambda docs: Response(413) if len(docs) > 2 else None)
    delivered, refused, stop = deliver(srv.send, [1, 2, 3, 4, 5, 6, 7, 8], _encode)
    assert (delivered, refused, stop) == (8, [], None)
    assert srv.stored == [1, 2, 3, 4, 5, 6, 7, 8] and len(srv.requests) == 7
    srv = Server(lambda docs: Response(413))
    delivered, refused, stop = deliver(srv.send, [1, 2], _encode)
    assert delivered == 0 and stop is None and [r[0] for r in refused] == [1, 2]
    assert isinstance(refused[0][2], TooLarge)
    delivered, refused, stop = deliver(srv.send, [1], _encode, max_bytes=10)
    assert refused[0][1].startswith("one point encodes to") and refused[0][2] is None


def test_400_with_details_refuses_only_the_named_points_in_one_request():
    srv = Server(_refuse((2, 5), True))
    delivered, refused, stop = deliver(srv.send, [1, 2, 3, 4, 5], _encode, docs=_docs)
    assert (delivered, stop, len(srv.requests)) == (3, None, 1)
    assert [(r[0], r[1]) for r in refused] == [(2, "odd"), (5, "odd")]
    assert [f[0] for f in refused[0][2].failed] == [1, 4]  # indices filled for display


def test_400_without_details_bisects_to_the_bad_point():
    srv = Server(_refuse((3,), False))
    delivered, refused, stop = deliver(srv.send, [1, 2, 3, 4], _encode, docs=_docs)
    assert (delivered, stop, srv.stored) == (3, None, [1, 2, 4])
    assert [r[0] for r in refused] == [3] and isinstance(refused[0][2], Rejected)


def test_busy_bad_token_and_network_stop_and_say_why():
    state = {"n": 0}

    def busy_after_first(docs):
        state["n"] += 1
        if state["n"] > 2:
            return Response(503, {"Retry-After": "7"}, "busy")
        return Response(413) if len(docs) > 2 else None

    srv = Server(busy_after_first)
    delivered, refused, stop = deliver(srv.send, [1, 2, 3, 4], _encode)
    assert delivered == 2 and refused == [] and isinstance(stop, Retryable)
    assert stop.retry_after_s == 7
    srv = Server(lambda docs: Response(401, {}, "no"))
    assert isinstance(deliver(srv.send, [1], _encode)[2], AuthError)
    seen = []

    def down(request):
        raise ConnectError("cannot connect to 127.0.0.1:9: is the server running?")

    note = lambda *a: seen.append(a)  # noqa: E731
    delivered, refused, stop = deliver(down, [1, 2], _encode, note=note)
    assert (delivered, refused, isinstance(stop, ConnectError)) == (0, [], True)
    assert seen[0][2] is None and seen[0][3] is stop


def test_judge_and_locate():
    assert judge(Response(204)) is None
    assert isinstance(judge(Response(413)), TooLarge)
    docs = [{"metric": "m", "value": 1, "tags": {"a": "b"}}, {"metric": "m", "value": 1}]
    dp = {"metric": "m", "value": 1}
    assert locate([(None, dp, "x"), (None, dp, "y")], docs) == [(0, dp, "x"), (1, dp, "y")]
    assert locate([(None, dp, "x")] * 3, docs) is None  # each doc matches once
    assert locate([(None, {"metric": "m", "value": 1, "tags": {"a": "c"}}, "")], docs) is None
    assert locate([(None, None, "no datapoint")], docs) is None
    assert Request("/p", b"[]").count == 0
