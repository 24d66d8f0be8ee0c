"""core.pack: the one packer; a fast encoder's whole-chunk bodies change no body."""

from mpcompat import raises
from tspush.core.errors import PointError
from tspush.core.pack import pack


def _enc(p):
    return ("%d:%s" % (p, "x" * (p % 7))).encode()


def _whole_sometimes(chunk):
    if chunk[0] % 3 == 0:  # "cannot vouch": point by point
        return None
    return b"[" + b",".join(_enc(p) for p in chunk) + b"]"


def test_whole_chunks_give_the_same_bodies_as_point_by_point():
    points = list(range(1, 200))
    for max_points, max_bytes in ((1, 64), (7, 64), (50, 120), (50, 8192), (13, 40)):
        each = list(pack(points, _enc, max_points, max_bytes, b"[", b",", b"]"))
        fast = list(
            pack(iter(points), _enc, max_points, max_bytes, b"[", b",", b"]", _whole_sometimes)
        )
        assert fast == each, (max_points, max_bytes)
        assert all(len(b) <= max_bytes and len(pts) <= max_points for b, pts in fast)


def test_a_point_too_large_alone_comes_after_the_points_before_it():
    points = [1, 2, 40, 3]

    def enc(p):
        return b"y" * p

    for whole in (None, lambda chunk: None):
        got = []
        e = raises(
            PointError, lambda: [got.append(x) for x in pack(points, enc, 10, 20, whole=whole)]
        )
        assert e.rule == "too-large" and e.point == 40
        assert got == [(b"y" * 3, [1, 2])]
