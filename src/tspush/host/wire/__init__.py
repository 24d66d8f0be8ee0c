"""Wire formats: one module each, found by name.

Every module has ``NAME``, ``CONTENT_TYPE``, ``RECORDS`` (True when the
spool's records are this format's items already, so the agent joins them as
they are instead of decoding and encoding again) and
``batches(points, max_points=, max_bytes=, **options)`` yielding
``(body, points_in_body)``, every body cut by ``tspush.core.pack``. The
portable encoders live in ``tspush.core`` (the board uses them); the modules
here add the computer's fast path beside them and fall back to the core's
encoder for anything the fast path cannot vouch for, so errors are the core's.

    opentsdb   OpenTSDB /api/put JSON (orjson)       core.opentsdb
    influx     Influx line protocol (memoised names) core.influx
    warp10     Warp 10 GTS input format              core.warp10
    promwrite  Prometheus remote write (protobuf + snappy), CPython only
"""

from __future__ import annotations

import importlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from types import ModuleType
from typing import Any

from tspush.core.pack import pack

FORMATS = ("opentsdb", "influx", "warp10", "promwrite")

Batch = tuple[bytes, list[Any]]


def get(name: str) -> ModuleType:
    """The module of wire format ``name``; ValueError listing the known ones otherwise."""
    if name not in FORMATS:
        raise ValueError(f"unknown wire format {name!r}: use {', '.join(FORMATS)}")
    return importlib.import_module("tspush.host.wire." + name)


def pack_chunked(
    points: Iterable[Any],
    encode_chunk: Callable[[list[Any]], list[bytes | None]],
    encode: Callable[[Any], bytes],
    max_points: int,
    max_bytes: int,
    head: bytes = b"",
    sep: bytes = b"",
    tail: bytes = b"",
) -> Iterator[Batch]:
    """``core.pack`` with each point's bytes made ``max_points`` at a time.

    ``encode_chunk(chunk)`` gives one part per point (one C call for a whole
    chunk is where the fast paths gain); a None part is made by ``encode(p)``
    when ``core.pack`` reaches that point, so its error comes where the core's would.
    """
    n = max(1, max_points)
    parts: deque[bytes | None] = deque()

    def feed() -> Iterator[Any]:
        it = iter(points)
        while chunk := list(islice(it, n)):
            parts.extend(encode_chunk(chunk))
            yield from chunk

    def part(p: Any) -> bytes:
        b = parts.popleft()
        return encode(p) if b is None else b

    return pack(feed(), part, n, max_bytes, head, sep, tail)
