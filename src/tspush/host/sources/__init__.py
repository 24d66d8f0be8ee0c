"""Where readings come from on a computer: each source has a name, an interval, tags.

Contract: ``.name``, ``.interval_s``, ``.read(now_s) -> list[Point]``. A source
that fails raises; the agent reports it and tries again next interval, the
other sources keep running. ``build(kind, options)`` makes one from config.
"""

from __future__ import annotations

from typing import Any

from tspush.host.sources.base import Source
from tspush.host.sources.command import CommandSource
from tspush.host.sources.constant import ConstantSource
from tspush.host.sources.file import FileSource
from tspush.host.sources.http_listener import HttpListenerSource
from tspush.host.sources.stdin import StdinSource
from tspush.host.sources.system import SystemSource

KINDS: dict[str, type[Source]] = {
    "constant": ConstantSource,
    "system": SystemSource,
    "command": CommandSource,
    "file": FileSource,
    "stdin": StdinSource,
    "http_listener": HttpListenerSource,
}

__all__ = [
    "KINDS",
    "CommandSource",
    "ConstantSource",
    "FileSource",
    "HttpListenerSource",
    "Source",
    "StdinSource",
    "SystemSource",
    "build",
]


def build(kind: str, options: dict[str, Any]) -> Source:
    """A source of ``kind`` from its config keys (already validated by agent_config)."""
    try:
        cls = KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown source type {kind!r}: use one of {', '.join(KINDS)}") from None
    return cls(**options)
