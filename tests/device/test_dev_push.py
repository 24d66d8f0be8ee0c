"""Buffer (RAM + spool) and push: batches, ack/keep/dead-letter, back-off, RAM cap."""

import shimpath  # noqa: F401  (first: the hardware shims)

# isort: split

import json
import os

from tspush.core.errors import ConnectError
from tspush.core.httpread import Response
from tspush.core.point import Point
from tspush.core.spool import Spool
from tspush.device import config
from tspush.device.buffer import Buffer
from tspush.device.log import Log
from tspush.device.push import Pusher


def fresh_dir(name):
    base = "/tmp/tspush-devtest"
    for d in (base, base + "/" + name):
        try:
            os.mkdir(d)
        except OSError:
            pass
    d = base + "/" + name
    for f in os.listdir(d):
        os.remove(d + "/" + f)
    return d


class FakeConn:
    host = "db.example"

    def __init__(self, answers):
        self.answers = list(answers)
        self.bodies = []
        self.headers = []

    def request(self, method, path, body, headers, body_len=None):
        data = b"".join(body) if not isinstance(body, bytes) else body
        assert body_len is None or body_len == len(data)
        self.bodies.append(data)
        self.headers.append(headers)
        a = self.answers.pop(0)
        if isinstance(a, Exception):
            raise a
        return Response(a[0], "", a[1] if len(a) > 1 else {}, a[2] if len(a) > 2 else b"", False)

    def close(self):
        pass


class Out:
    def __init__(self):
        self.text = ""

    def __call__(self, s="", end="\n"):
        self.text += s + end


def setup(answers, name, **cfg):
    c = config.check(
        dict({"url": "https://db.example/api/put", "token": "tok", "max_points": 3}, **cfg)
    )
    out = Out()
    log = Log([], out)
    spool = Spool(
        fresh_dir(name), outputs=("board",), segment_bytes=512, max_bytes=8192, max_age_s=0
    )
    buf = Buffer(c["queue_max"], spool)
    conn = FakeConn(answers)
    return Pusher(c, log, conn, "/api/put", rand=lambda: 0.5), buf, conn, out


def points(n, ts=1790000000):
    return [Point("t", i, ts + i, {"room": "lab"}) for i in range(n)]


def test_batches_of_max_points_sent_and_acked():
    p, buf, conn, out = setup([(204,), (204,)], "ok")
    buf.spool.append(points(5))
    assert p.push(buf) == 5
    assert [len(json.loads(b)) for b in conn.bodies] == [3, 2]
    assert json.loads(conn.bodies[0])[0] == {
        "metric": "t",
        "timestamp": 1790000000,
        "value": 0,
        "tags": {"room": "lab"},
    }
    assert conn.headers[0]["Authorization"] == "Basic REVTQzp0b2s="  # DESC:tok
    assert buf.pending() == 0
    assert "POST db.example/api/put (3 points" in out.text and "http: 204" in out.text


def test_server_error_keeps_points_and_backs_off():
    p, buf, conn, out = setup([(503, {"retry-after": "120"}, b"busy")], "busy")
    buf.spool.append(points(2))
    assert p.push(buf) == 0
    assert buf.pending() == 2
    assert "error: server error while sending" in out.text
    assert "retry 1 in 120.0s" in out.text
    assert not p.ready()
    assert p.push(buf) == 0 and len(conn.bodies) == 1  # waits, sends nothing


def test_token_rejected_keeps_points():
    p, buf, conn, out = setup([(401, {}, b"bad token tok")], "auth")
    buf.spool.append(points(1))
    p.push(buf)
    assert buf.pending() == 1
    assert "error: token rejected" in out.text
    assert p.failures == {"token rejected": 1}


def test_rejected_points_set_aside_and_the_rest_goes_on():
    bad = (400, {}, b'{"error":{"message":"bad"}}')
    p, buf, conn, out = setup([bad, (204,), (204,), (204,)], "rej", max_points=1)
    buf.spool.append(points(4))
    assert p.push(buf) == 3
    assert p.rejected == 1
    assert buf.pending() == 0
    f = open(buf.spool.path + "/dead-letter.jsonl")
    assert len(f.read().splitlines()) == 1
    f.close()


def test_network_failure_keeps_everything():
    p, buf, conn, out = setup([ConnectError("db.example:443: connect failed")], "down")
    buf.spool.append(points(2))
    assert p.push(buf) == 0
    assert buf.pending() == 2
    assert "error: connect while sending" in out.text


def test_readings_from_before_the_clock_was_set_are_stamped_or_counted_lost():
    """``@ERA RAW json`` on flash: sent with RAW + the era's offset; a dead era's never sent."""
    from tspush.device.clock import Clock

    p, buf, conn, out = setup([(204,), (204,)], "eras")
    clock = Clock(None, offset_s=0)
    clock.offsets = {"aa11": 1790000000 - 40}
    p.prepare = clock.stamp
    recs = [b'@aa11 %d {"metric":"a","value":%d,"tags":{}}' % (40 + i, i) for i in range(2)]
    recs.append(b'@dead 7 {"metric":"a","value":9,"tags":{}}')  # power lost, never synced
    buf.spool.append_records(recs)
    buf.spool.append(points(1, 1790000005))
    assert p.push(buf) == 3
    sent = json.loads(conn.bodies[0]) + json.loads(conn.bodies[1])
    assert [(d["value"], d["timestamp"]) for d in sent] == [
        (0, 1790000000),
        (1, 1790000001),
        (0, 1790000005),
    ]
    assert clock.lost == 1 and buf.pending() == 0
    f = open(buf.spool.path + "/dead-letter.jsonl")
    dead = json.loads(f.read())
    f.close()
    assert dead["point"] == {"metric": "a", "value": 9, "tags": {}}
    assert "before any clock sync" in dead["reason"]


def test_ram_queue_drops_oldest_and_counts():
    b = Buffer(3)
    b.add(points(5), 0)
    assert [q.value for q in b.points] == [2, 3, 4]
    assert b.dropped == 2


def test_ram_only_buffer_uses_core_batches():
    c = config.check({"url": "http://10.0.0.2/api/put", "max_points": 2, "spool_dir": ""})
    b = Buffer(10)
    b.add(points(3), 0)
    conn = FakeConn([(204,), (204,)])
    p = Pusher(c, Log([], Out()), conn, "/api/put")
    assert p.push(b) == 3
    assert [len(json.loads(x)) for x in conn.bodies] == [2, 1]
    assert b.ram_count() == 0
    assert "Authorization" not in conn.headers[0]  # no token configured


def test_out_of_memory_halves_the_next_batches_then_grows_back():
    p, buf, conn, out = setup([MemoryError(), (204,), (204,), (204,)], "oom", max_points=4)
    buf.spool.append(points(4))
    assert p.push(buf) == 0
    assert "error: out of memory while sending" in out.text
    assert "memory: next batches at most 2 points" in out.text
    p.wait_until_ms = None  # the back-off has passed
    assert p.push(buf) == 4
    # the failed try of 4, then 2 (halved), then the last 2 (back up to 4 at most)
    assert [len(json.loads(b)) for b in conn.bodies] == [4, 2, 2]


def test_413_halves_through_the_engine_and_lowers_max_points():
    big = (413, {}, b"too big")
    p, buf, conn, out = setup([big, (204,), (204,)], "413", max_points=4)
    buf.spool.append(points(4))
    assert p.push(buf) == 4
    assert [len(json.loads(b)) for b in conn.bodies] == [4, 2, 2]
    assert p.max_points == 4  # lowered to 2 by the 413, grown back by the success
    assert p.retry.attempt == 0 and buf.pending() == 0
    sent = [d["value"] for b in conn.bodies[1:] for d in json.loads(b)]
    assert sent == [0, 1, 2, 3]


def test_400_bisects_to_the_bad_point_and_dead_letters_only_it():
    def bad_if_2(body):
        return any(d["value"] == 2 for d in json.loads(body))

    answers = []
    p, buf, conn, out = setup(answers, "bisect", max_points=4)
    refused = (400, {}, b'{"error":{"message":"bad value"}}')

    def request(method, path, body, headers, body_len=None):
        data = b"".join(body)
        conn.bodies.append(data)
        a = refused if bad_if_2(data) else (204,)
        return Response(a[0], "", a[1] if len(a) > 1 else {}, a[2] if len(a) > 2 else b"", False)

    conn.request = request
    buf.spool.append(points(4))
    assert p.push(buf) == 3 and p.rejected == 1 and buf.pending() == 0
    # [0..3] refused, [0,1] sent, [2,3] refused, [2] refused alone, [3] sent
    assert [len(json.loads(b)) for b in conn.bodies] == [4, 2, 2, 1, 1]
    f = open(buf.spool.path + "/dead-letter.jsonl")
    dead = [json.loads(line) for line in f.read().splitlines()]
    f.close()
    assert [d["point"]["value"] for d in dead] == [2]
    assert "bad value" in dead[0]["reason"]


def test_retry_state_is_a_value_replaced_at_each_failure_and_reset_by_a_success():
    p, buf, conn, out = setup([(503,), (503,), (204,)], "succ")
    first = p.retry
    buf.spool.append(points(1))
    p.push(buf)
    second = p.retry
    p.wait_until_ms = None
    p.push(buf)
    assert (first.attempt, second.attempt, p.retry.attempt) == (0, 1, 2)
    assert "retry 2 in" in out.text
    p.wait_until_ms = None
    assert p.push(buf) == 1 and p.retry.attempt == 0 and buf.pending() == 0


def test_ram_batch_refused_by_the_server_is_dropped_and_counted():
    c = config.check({"url": "http://10.0.0.2/api/put", "max_points": 5, "spool_dir": ""})
    b = Buffer(10)
    b.add(points(2), 0)
    conn = FakeConn([(400, {}, b"bad"), (400, {}, b"bad"), (204,)])
    p = Pusher(c, Log([], Out()), conn, "/api/put")
    # the 2-point body is refused, then its halves: the first refused, the second sent
    assert p.push(b) == 1 and p.rejected == 1 and b.ram_count() == 0
    assert [len(json.loads(x)) for x in conn.bodies] == [2, 1, 1]
