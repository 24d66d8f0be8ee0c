"""The spool on disk: transactions, cursors, recovery from damage, caps."""

import binascii
import os

from mpcompat import raises
from tspush.core import spool as spool_mod
from tspush.core import spoolfix, spoolmore
from tspush.core.errors import SpoolError
from tspush.core.point import Point
from tspush.core.spool import Spool


def _fresh(name):
    path = "/tmp/tspush-spool-%s-%s" % (name, binascii.hexlify(os.urandom(4)).decode())
    os.mkdir(path)
    return path


def _rmtree(path):
    for n in os.listdir(path):
        os.remove(path + "/" + n)
    os.rmdir(path)


def _segs(path):
    return sorted(n for n in os.listdir(path) if n.endswith(".seg"))


def _pts(n, start=0, metric="m"):
    return [Point(metric, i, 1700000000 + i, {"i": str(i % 3)}) for i in range(start, start + n)]


class Clock:
    def __init__(self, t=1000):
        self.t = t

    def __call__(self):
        return self.t


def test_append_take_ack_keeps_order_values_and_timestamps():
    d = _fresh("basic")
    try:
        s = Spool(d)
        pts = _pts(5) + [Point("f", 1.25, 1700000100123, {})]
        assert s.append(pts) == 6
        b = s.take("default", 100)
        got = b.points()
        assert got == pts
        assert isinstance(got[0].value, int) and isinstance(got[-1].value, float)
        assert s.pending("default") == 6
        s.ack(b)
        assert s.pending("default") == 0
        assert s.take("default") is None
        s.close()
        # Reopened: acked points are never sent again.
        s = Spool(d)
        assert s.take("default") is None
        s.append(_pts(2, 10))
        assert [p.value for p in s.take("default").points()] == [10, 11]
        s.close()
    finally:
        _rmtree(d)


def test_keep_and_crash_resend_only_the_batch_in_flight():
    d = _fresh("keep")
    try:
        s = Spool(d)
        s.append(_pts(10))
        b1 = s.take("default", 4)
        s.ack(b1)
        b2 = s.take("default", 4)
        s.keep(b2)
        b2again = s.take("default", 4)
        assert [p.value for p in b2again.points()] == [4, 5, 6, 7]
        # "Crash" with b2 in flight: no close, no ack.
        s2 = Spool(d)
        b = s2.take("default", 100)
        assert [p.value for p in b.points()] == [4, 5, 6, 7, 8, 9]
        s2.close()
        s.close()
    finally:
        _rmtree(d)


def test_points_without_timestamp_are_stamped_at_append():
    d = _fresh("stamp")
    try:
        s = Spool(d)
        s.append([Point("a", 1), Point("b", 2, 1700000000)], now_ts=1712345678)
        got = s.take("default").points()
        assert got[0].ts == 1712345678 and got[1].ts == 1700000000
        s.append([Point("c", 3)])
        assert s.take("default", 10).points()[-1].ts is None
        s.close()
    finally:
        _rmtree(d)


def test_each_output_has_its_own_cursor_and_segments_go_when_all_acked():
    d = _fresh("fanout")
    try:
        s = Spool(d, outputs=("a", "b"), segment_bytes=400, max_bytes=1 << 20)
        s.append(_pts(30))
        assert len(_segs(d)) > 2
        while True:
            b = s.take("a", 7)
            if b is None:
                break
            s.ack(b)
        assert s.pending("a") == 0 and s.pending("b") == 30
        n_segs = len(_segs(d))
        assert n_segs > 2  # "b" still needs them
        got = []
        while True:
            b = s.take("b", 8)
            if b is None:
                break
            got.extend(p.value for p in b.points())
            s.ack(b)
        assert got == list(range(30))
        assert len(_segs(d)) == 1
        s.close()
        s = Spool(d, outputs=("a", "b"), segment_bytes=400, max_bytes=1 << 20)
        assert s.pending("a") == 0 and s.pending("b") == 0
        raises(SpoolError, s.take, "c")
        s.close()
    finally:
        _rmtree(d)


def test_take_bounds_by_count_and_bytes_across_segments():
    d = _fresh("bounds")
    try:
        s = Spool(d, segment_bytes=300, max_bytes=1 << 20)
        s.append(_pts(40))
        b = s.take("default", 25)
        assert [p.value for p in b.points()] == list(range(25))
        one = len(b.records[0])
        b2 = s.take("default", 100, max_bytes=one * 3 + 1)
        assert len(b2) == 3
        b3 = s.take("default", 100, max_bytes=1)
        assert len(b3) == 1  # always at least one
        s.close()
    finally:
        _rmtree(d)


def test_torn_tail_is_cut_not_fatal():
    d = _fresh("torn")
    try:
        s = Spool(d)
        s.append(_pts(5))
        s.close()
        seg = d + "/" + _segs(d)[-1]
        size = os.stat(seg)[6]
        f = open(seg, "ab")
        f.write(spoolfix.encode_record(b'{"metric":"x","value":1,"tags":{}}', 5)[:20])
        f.close()
        s = Spool(d)
        assert s.corrupt_bytes == 20 and s.corrupt_records == 1
        assert s.damage == [(1, spoolfix.TORN, 20, 1)]
        assert "torn tail of 20 byte(s)" in spool_mod.describe(s.damage[0])
        assert os.stat(seg)[6] == size
        s.append(_pts(1, 5))
        b = s.take("default", 100)
        assert [p.value for p in b.points()] == [0, 1, 2, 3, 4, 5]
        s.close()
        s = Spool(d)
        assert s.damage == [] and s.pending("default") == 6  # cut once, never again
        s.close()
    finally:
        _rmtree(d)


def _rewrite(path, change):
    f = open(path, "rb")
    data = bytearray(f.read())
    f.close()
    change(data)
    f = open(path, "wb")
    f.write(data)
    f.close()
    return data


def test_a_corrupt_record_is_skipped_and_the_records_after_it_kept():
    d = _fresh("corrupt")
    try:
        s = Spool(d)
        for p in _pts(6):
            s.append([p])  # one record per point, as a board appends readings
        one = len(s.take("default").records[0]) + spoolfix.HEADER
        s.close()
        seg = d + "/" + _segs(d)[-1]

        def flip(data):
            data[2 * one + spoolfix.HEADER + 3] ^= 0x55  # inside the third record's payload

        data = _rewrite(seg, flip)
        s = Spool(d)
        assert s.corrupt_bytes == one and s.corrupt_records == 1
        assert s.damage == [(1, spoolfix.CORRUPT, one, 1)]
        text = spool_mod.describe(s.damage[0])
        assert "1 corrupt record" in text and "torn" not in text
        assert s.pending("default") == 5
        assert [p.value for p in s.take("default", 100).points()] == [0, 1, 3, 4, 5]
        assert os.stat(seg)[6] == len(data)  # nothing cut: the hole is jumped over
        s.append(_pts(1, 6))
        assert [p.value for p in s.take("default", 100).points()] == [0, 1, 3, 4, 5, 6]
        s.close()
    finally:
        _rmtree(d)


def test_a_damaged_length_resynchronises_on_the_next_marker():
    d = _fresh("length")
    try:
        s = Spool(d)
        for p in _pts(5):
            s.append([p])
        one = len(s.take("default").records[0]) + spoolfix.HEADER
        s.close()

        def grow(data):
            data[one + 1] ^= 0x01  # the second record's length: 256 bytes longer

        _rewrite(d + "/" + _segs(d)[-1], grow)
        s = Spool(d)
        assert [p.value for p in s.take("default", 100).points()] == [0, 2, 3, 4]
        assert s.corrupt_bytes == one
        s.close()
    finally:
        _rmtree(d)


def test_a_cursor_after_a_damaged_record_counts_only_what_is_left():
    d = _fresh("recount")
    try:
        s = Spool(d)
        for p in _pts(8):
            s.append([p])
        one = len(s.take("default").records[0]) + spoolfix.HEADER
        s.ack(s.take("default", 5))
        s.close()

        def flip(data):
            data[one + spoolfix.HEADER + 5] ^= 0x10  # an acked record

        _rewrite(d + "/" + _segs(d)[-1], flip)
        s = Spool(d)
        assert s.pending("default") == 3
        assert [p.value for p in s.take("default", 100).points()] == [5, 6, 7]
        s.close()

        def flip2(data):
            data[5 * one + 7] ^= 0x10  # the record the cursor points at

        _rewrite(d + "/" + _segs(d)[-1], flip2)
        s = Spool(d)
        assert s.pending("default") == 2
        assert [p.value for p in s.take("default", 100).points()] == [6, 7]
        s.close()
    finally:
        _rmtree(d)


def test_a_segment_cut_to_zero_bytes_is_reported():
    d = _fresh("empty")
    try:
        s = Spool(d, outputs=("a", "b"), segment_bytes=400, max_bytes=1 << 20)
        s.append(_pts(20))
        s.ack(s.take("a", 100))
        names = _segs(d)
        assert len(names) >= 3
        s.close()
        f = open(d + "/" + names[1], "wb")  # a middle segment, emptied
        f.close()
        s = Spool(d, outputs=("a", "b"), segment_bytes=400, max_bytes=1 << 20)
        assert s.damage == [(int(names[1][:8]), spoolfix.EMPTY, 0, 0)]
        assert "is empty" in spool_mod.describe(s.damage[0])
        vals = [p.value for p in s.take("b", 100).points()]
        assert vals and vals[0] == 0 and vals[-1] == 19 and len(vals) < 20
        s.close()
        # The last segment too, when an output had read into it.
        d2 = _fresh("empty2")
        s = Spool(d2)
        for p in _pts(3):
            s.append([p])
        s.ack(s.take("default", 2))
        s.close()
        f = open(d2 + "/" + _segs(d2)[0], "wb")
        f.close()
        s = Spool(d2)
        assert s.damage == [(1, spoolfix.EMPTY, 0, 0)] and s.pending("default") == 0
        s.append(_pts(1, 3))
        assert [p.value for p in s.take("default").points()] == [3]
        s.close()
        _rmtree(d2)
    finally:
        _rmtree(d)


def _old_record(payload, appended_s):
    """A record as written before the marker: length, CRC of (stamp + payload), stamp."""
    import struct

    t = struct.pack("<I", appended_s)
    return (
        struct.pack("<II", len(payload), spool_mod._crc(payload, spool_mod._crc(t))) + t + payload
    )


def test_segments_written_before_the_marker_are_still_read():
    from tspush.core.opentsdb import encode_point

    d = _fresh("oldfmt")
    try:
        pts = _pts(9)
        f = open(d + "/00000001.seg", "wb")
        f.write(b"".join(_old_record(encode_point(p), 1000) for p in pts[:4]))
        f.close()
        f = open(d + "/00000002.seg", "wb")
        old = [_old_record(encode_point(p), 1001) for p in pts[4:]]
        f.write(b"".join(old))
        f.close()
        f = open(d + "/cursor.default", "wb")  # acked the first point
        f.write(("v2 1 %d 1 0 0 0\n" % len(_old_record(encode_point(pts[0]), 1000))).encode())
        f.close()
        s = Spool(d, clock=Clock(2000))
        assert s.damage == [] and s.pending("default") == 8
        assert s.oldest_pending_s("default") == 1000
        s.append(_pts(2, 9))  # new records after old ones in the same segment
        assert s.take("default", 100).points() == pts[1:] + _pts(2, 9)
        s.close()

        def flip(data):
            data[len(old[0]) + 20] ^= 0x40  # an old record in the middle

        _rewrite(d + "/00000002.seg", flip)
        s = Spool(d)
        # old records re-synchronise only onto marked ones: the old ones after it are lost
        vals = [p.value for p in s.take("default", 100).points()]
        assert vals == [1, 2, 3, 4, 9, 10]
        assert s.damage[0][1] == spoolfix.CORRUPT
        s.close()
    finally:
        _rmtree(d)


def test_records_larger_than_a_read_piece_come_back_whole():
    d = _fresh("pieces")
    try:
        s = Spool(d, segment_bytes=4096, max_bytes=65536)
        assert spoolfix.read_bytes(s) <= 256  # a board reads in small pieces
        pts = [
            Point("long.metric.name.%d" % i, i, 1700000000 + i, {"t": "x" * 40}) for i in range(9)
        ]
        s.append(pts)  # a record of ~900 bytes, then one of ~110
        s.close()
        s = Spool(d, segment_bytes=4096, max_bytes=65536)
        assert s.damage == [] and s.pending("default") == 9
        b = s.take("default", 4)
        assert b.points() == pts[:4]
        s.ack(b)
        assert s.take("default", 100).points() == pts[4:]
        s.close()

        def flip(data):
            data[700] ^= 0x01

        _rewrite(d + "/" + _segs(d)[0], flip)
        s = Spool(d, segment_bytes=4096, max_bytes=65536)
        assert s.damage[0][1] == spoolfix.CORRUPT and s.damage[0][2] > 800
        got = s.take("default", 100).points()
        assert 0 < len(got) < 9 and got == pts[-len(got) :]
        s.close()
    finally:
        _rmtree(d)


def test_scan_lists_the_valid_records_around_damage():
    recs = [spoolfix.encode_record(b'{"v":%d}' % i, 7) for i in range(4)]
    buf = bytearray(b"".join(recs))
    buf[len(recs[0]) + 14] ^= 0x01
    got = [(a, b) for a, b, _ in spoolfix.scan(buf)]
    ends = [len(b"".join(recs[: i + 1])) for i in range(4)]
    assert got == [(0, ends[0]), (ends[1], ends[2]), (ends[2], ends[3])]


def test_unreadable_cursor_file_means_resend_not_loss():
    d = _fresh("cursor")
    try:
        s = Spool(d)
        s.append(_pts(4))
        s.ack(s.take("default", 2))
        s.close()
        f = open(d + "/cursor.default", "wb")
        f.write(b"garbage")
        f.close()
        s = Spool(d)
        assert s.pending("default") == 4
        s.close()
    finally:
        _rmtree(d)


def test_size_cap_drops_oldest_and_counts_them():
    d = _fresh("cap")
    try:
        s = Spool(d, outputs=("a", "b"), segment_bytes=512, max_bytes=2048)
        s.append(_pts(10))
        s.ack(s.take("b", 10))
        for i in range(10, 200, 10):
            s.append(_pts(10, i))
        assert s.total_bytes() <= 2048
        left = s.pending("a")
        assert 0 < left < 200
        assert s.stats("a")["dropped"] == 200 - left
        vals = [p.value for p in s.take("a", 1000).points()]
        assert vals == list(range(200 - left, 200))  # newest kept, oldest dropped
        assert s.stats("b")["dropped"] == 190 - s.pending("b")
        s.close()
        s = Spool(d, outputs=("a", "b"), segment_bytes=512, max_bytes=2048)
        assert s.stats("a")["dropped"] == 200 - left  # the count survives a restart
        s.close()
    finally:
        _rmtree(d)


def test_age_cap_drops_old_points():
    d = _fresh("age")
    try:
        clock = Clock(1000)
        s = Spool(d, segment_bytes=400, max_bytes=1 << 20, max_age_s=100, clock=clock)
        s.append(_pts(10))
        clock.t = 1050
        s.append(_pts(3, 10))
        assert s.pending("default") == 13
        assert s.oldest_pending_s("default") == 1000
        clock.t = 1120
        s.append(_pts(2, 13))
        # Everything appended at t=1000 is older than 100 s: gone and counted.
        vals = [p.value for p in s.take("default", 100).points()]
        assert vals[0] >= 4 and vals[-1] == 14
        assert s.stats("default")["dropped"] == 15 - len(vals)
        clock.t = 1300
        s.append(_pts(1, 15))
        assert [p.value for p in s.take("default", 100).points()] == [15]
        s.close()
    finally:
        _rmtree(d)


def test_dead_letter_file_and_count():
    d = _fresh("dead")
    try:
        s = Spool(d)
        s.append(_pts(3))
        b = s.take("default")
        assert s.dead_letter("default", [(b.records[1], 'bad "tag"')]) == 1
        s.ack(b)
        f = open(d + "/dead-letter.jsonl", "rb")
        line = f.read().decode()
        f.close()
        import json

        doc = json.loads(line)
        assert doc["reason"] == 'bad "tag"' and doc["point"]["value"] == 1
        assert s.stats("default")["dead_letters"] == 1
        s.close()
    finally:
        _rmtree(d)


def test_own_crc_matches_binascii():
    import binascii as b

    data = b"tspush spool record \x00\xff"
    assert spool_mod._crc(data) == b.crc32(data) & 0xFFFFFFFF
    saved = spool_mod.crc32
    spool_mod.crc32 = spoolmore.crc32  # as on a port built without binascii.crc32
    try:
        slow = spool_mod._crc(data)
        slow2 = spool_mod._crc(data[5:], spool_mod._crc(data[:5]))
    finally:
        spool_mod.crc32 = saved
    assert slow == slow2 == b.crc32(data) & 0xFFFFFFFF


def test_bad_settings_say_what_to_fix():
    e = raises(SpoolError, Spool, "/tmp/unused", outputs=("a b",))
    assert "a b" in str(e)
    e = raises(SpoolError, Spool, "/tmp/unused", segment_bytes=1000, max_bytes=1500)
    assert "max_bytes" in str(e)


def test_many_points_per_record_partial_takes_survive_restart():
    d = _fresh("multi")
    try:
        s = Spool(d)
        s.append(_pts(100))
        assert os.stat(d + "/" + _segs(d)[0])[6] < 100 * 80  # one header, not 100
        b = s.take("default", 30)
        assert [p.value for p in b.points()] == list(range(30))
        s.ack(b)
        b = s.take("default", 30)  # in flight when the "crash" comes
        s2 = Spool(d)
        assert s2.pending("default") == 70
        assert [p.value for p in s2.take("default", 5).points()] == [30, 31, 32, 33, 34]
        s2.ack(s2.take("default", 65))
        assert s2.pending("default") == 5
        assert [p.value for p in s2.take("default", 100).points()] == [95, 96, 97, 98, 99]
        s2.close()
        s.close()
    finally:
        _rmtree(d)


def test_stream_walks_the_same_points_as_take_from_flash_and_acks_like_it():
    d = _fresh("stream")
    try:
        s = Spool(d, outputs=("board",), segment_bytes=512, max_bytes=1 << 20)
        for i in range(8):  # one point per record, as a board appends
            s.append([Point("m", i, 1700000000 + i, {})])
        s.append(_pts(9, 100))  # then one record of nine points, cut by max_points below
        assert len(_segs(d)) > 1  # the batches span segments
        s.ack(s.take("board", 3))
        want = s.take("board", 12)
        b = s.stream("board", 12)
        assert len(b) == 12 and len(b.records) == 12 and b.end == want.end
        assert list(b.records) == want.records
        assert list(b.records) == want.records  # walked again: the body's size, then its bytes
        assert b.records[0] == want.records[0] and b.records[3:5] == want.records[3:5]
        s.append(_pts(2, 200))  # a reading stored while the batch is sent is not in it
        assert list(b.records) == want.records
        s.ack(b)
        assert s.pending("board") == 17 - 3 - 12 + 2
        assert [p.value for p in s.take("board").points()] == [107, 108, 200, 201]
        s.close()
        s = Spool(d, outputs=("board",), segment_bytes=512, max_bytes=1 << 20)  # reopened
        assert [p.value for p in s.take("board").points()] == [107, 108, 200, 201]
        s.ack(s.stream("board", 100))
        assert s.stream("board", 100) is None and s.pending("board") == 0
        s.close()
    finally:
        _rmtree(d)


def test_version_1_cursor_files_still_read():
    d = _fresh("v1")
    try:
        s = Spool(d)
        for p in _pts(4):
            s.append([p])
        one = len(s.take("default").records[0]) + spoolfix.HEADER
        s.close()
        f = open(d + "/cursor.default", "wb")
        f.write(("v1 1 %d 2 7 1\n" % (2 * one)).encode())
        f.close()
        s = Spool(d)
        assert s.pending("default") == 2 and s.stats("default")["dropped"] == 7
        assert [p.value for p in s.take("default").points()] == [2, 3]
        s.close()
    finally:
        _rmtree(d)


def test_cursor_slots_newest_wins_and_a_torn_slot_falls_back_one_ack():
    d = _fresh("slots")
    try:
        s = Spool(d)
        s.append(_pts(50))
        for _ in range(4):
            s.ack(s.take("default", 10))  # acks 0..39
        s.close()
        s = Spool(d)
        assert s.pending("default") == 10
        s.ack(s.take("default", 5))  # 40..44
        s.ack(s.take("default", 3))  # 45..47, in the other slot
        s.close()
        f = open(d + "/cursor.default", "rb")
        data = bytearray(f.read())
        f.close()
        assert len(data) == 2 * 128
        s = Spool(d)
        assert s.pending("default") == 2
        s.close()
        # Tear the newest slot: the previous one (after 0..44) is used; nothing is lost.
        newest = None
        for i in (0, 1):
            counter = int(bytes(data[i * 128 : (i + 1) * 128]).split()[1])  # v3 COUNTER ...
            if newest is None or counter > newest[0]:
                newest = (counter, i)
        data[newest[1] * 128 + 10] ^= 0x21
        f = open(d + "/cursor.default", "wb")
        f.write(data)
        f.close()
        s = Spool(d)
        assert s.pending("default") == 5
        assert [p.value for p in s.take("default", 100).points()] == list(range(45, 50))
        s.close()
    finally:
        _rmtree(d)


def test_a_failed_append_says_how_many_of_its_points_were_stored():
    d = _fresh("stored")
    try:
        s = Spool(d, segment_bytes=400, max_bytes=1 << 20)
        real = s._rotate
        calls = []

        def rotate():
            calls.append(1)
            if len(calls) == 2:  # the second new segment cannot be started: disk full
                raise SpoolError("spool: cannot start a new segment: check free space")
            return real()

        s._rotate = rotate
        e = raises(SpoolError, s.append, _pts(20))
        assert 0 < e.stored < 20
        assert s.pending("default") == e.stored
        assert [p.value for p in s.take("default", 100).points()] == list(range(e.stored))
        s.close()
    finally:
        _rmtree(d)


def test_an_ack_out_of_memory_moves_nothing():
    d = _fresh("oom")
    try:
        s = Spool(d, segment_bytes=4096, max_bytes=65536)
        s.append(_pts(5))
        b = s.take("default", 3)
        real = spool_mod._crc

        def no_memory(data, value=0):
            raise MemoryError("memory allocation failed")

        spool_mod._crc = no_memory  # the cursor's slot cannot be built
        try:
            raises(MemoryError, s.ack, b)
        finally:
            spool_mod._crc = real
        # In RAM and on flash alike: the batch is still pending (sent again, never lost).
        assert s.pending("default") == 5
        s.close()
        s = Spool(d, segment_bytes=4096, max_bytes=65536)
        assert s.pending("default") == 5
        s.ack(s.take("default", 3))
        s.close()
        s = Spool(d, segment_bytes=4096, max_bytes=65536)
        assert [p.value for p in s.take("default", 10).points()] == [3, 4]
        s.close()
    finally:
        _rmtree(d)


def test_the_board_path_loads_neither_recovery_nor_the_rest():
    # On a board every module costs RAM: a healthy spool, created, opened again,
    # appended to, taken from and acked, never needs core.spoolfix or core.spoolmore.
    import sys

    d = _fresh("lazy") + "/a/spool"  # its parents are created too
    import tspush.core as core

    lazy = ("spoolfix", "spoolmore")
    saved = {}
    for name in lazy:  # as if never imported: neither in sys.modules nor on the package
        if "tspush.core." + name in sys.modules:
            saved[name] = sys.modules.pop("tspush.core." + name)
        if hasattr(core, name):
            delattr(core, name)
    try:
        for _ in range(2):
            s = Spool(d, outputs=("board",), segment_bytes=4096, max_bytes=65536, max_age_s=0)
            for i in range(40):  # a second segment in the second round
                one = b'{"metric":"m","timestamp":%d,"value":%d}' % (1700000000 + i, i)
                s.append_records([one])
            b = s.take("board", 50, 4000, 1)
            s.ack(b)
            assert s.pending("board") == 0 and len(b) == 40
            s.close()
        loaded = [name for name in lazy if "tspush.core." + name in sys.modules]
        assert loaded == [], loaded
    finally:
        for name in saved:
            sys.modules["tspush.core." + name] = saved[name]
            setattr(core, name, saved[name])
        top = d[: -len("/a/spool")]
        _rmtree(d)
        os.rmdir(top + "/a")
        os.rmdir(top)


def test_a_streamed_push_loads_neither_recovery_nor_the_rest():
    # The board's push (stream, walk the records twice, ack, pending, dropped) on a healthy
    # spool needs neither core.spoolfix nor core.spoolmore; the host's methods load the latter.
    import sys

    d = _fresh("lazystream")
    import tspush.core as core

    lazy = ("spoolfix", "spoolmore")
    saved = {}
    for name in lazy:
        if "tspush.core." + name in sys.modules:
            saved[name] = sys.modules.pop("tspush.core." + name)
        if hasattr(core, name):
            delattr(core, name)
    try:
        s = Spool(d, outputs=("board",), segment_bytes=4096, max_bytes=65536, max_age_s=0)
        for i in range(60):  # two segments
            one = b'{"metric":"m","timestamp":%d,"value":%d}' % (1700000000 + i, i)
            s.append_records([one])
        b = s.stream("board", 50)
        size = 0
        for r in b.records:
            size += len(r)
        walked = list(b.records)
        assert len(walked) == 50 and size == sum(len(r) for r in walked)
        assert walked[49] == b'{"metric":"m","timestamp":1700000049,"value":49}'
        s.ack(b)
        assert s.pending("board") == 10 and s.dropped("board") == 0
        loaded = [name for name in lazy if "tspush.core." + name in sys.modules]
        assert loaded == [], loaded
        assert not hasattr(s, "no_such_method")  # only spoolmore's named methods exist
        assert s.points() == 60 and s.stats("board")["pending"] == 10  # host's, loaded now
        assert "tspush.core.spoolmore" in sys.modules
        s.close()
    finally:
        for name in saved:
            sys.modules["tspush.core." + name] = saved[name]
            setattr(core, name, saved[name])
        _rmtree(d)


def test_bury_writes_reasons_without_our_echoed_headers():
    """core.answer.bury: the one dead-letter writer of the agent, the relay and the board."""
    from tspush.core.answer import bury

    d = _fresh("bury")
    try:
        s = Spool(d)
        s.append(_pts(3))
        b = s.take("default")
        echo = 'HTTP 400: {"error":"bad","request":{"Authorization":"Basic c2VjcmV0"}}'
        n, why = bury(s, "default", [(b.records[0], echo), (b.records[2], "too long")])
        assert n == 2 and why.startswith('HTTP 400: {"error":"bad"') and "Basic" not in why
        s.ack(b)
        f = open(d + "/dead-letter.jsonl", "rb")
        lines = f.read().decode().splitlines()
        f.close()
        import json

        docs = [json.loads(x) for x in lines]
        assert [x["point"]["value"] for x in docs] == [0, 2]
        assert "c2VjcmV0" not in lines[0] and docs[1]["reason"] == "too long"
        assert s.pending("default") == 0
        s.close()
    finally:
        _rmtree(d)
