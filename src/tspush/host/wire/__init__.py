"""Wire formats: one module each, found by name.

Every module has ``NAME``, ``CONTENT_TYPE``, ``RECORDS`` (True when the
spool's records are this format's items already, so the agent joins them as
they are instead of decoding and encoding again) and
``batches(points, max_points=, max_bytes=, **options)`` yielding
``(body, points_in_body)``, every body cut by ``tspush.core.pack`` (the fast
paths hand it a whole chunk's body at once, ``pack(whole=)``). The
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
from types import ModuleType

FORMATS = ("opentsdb", "influx", "warp10", "promwrite")


def get(name: str) -> ModuleType:
    """The module of wire format ``name``; ValueError listing the known ones otherwise."""
    if name not in FORMATS:
        raise ValueError(f"unknown wire format {name!r}: use {', '.join(FORMATS)}")
    return importlib.import_module("tspush.host.wire." + name)
