"""Where readings come from on a computer: each source has a name, an interval, tags.

Contract: ``.name``, ``.interval_s``, ``.read(now_s) -> list[Point]``. A source
that fails raises; the agent reports it and tries again next interval, the
other sources keep running. ``build(kind, options)`` makes one from config.
Each source class declares its keys (``OPTIONS``): ``options(kind)`` gives
them with the keys every source takes; ``doc_tables()`` and ``sample()``
render them for docs/agent.md and the sample config.
"""

from __future__ import annotations

from typing import Any

from tspush.host import options as opts
from tspush.host.sources.base import COMMON_OPTIONS, Source
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
    "doc_tables",
    "options",
    "sample",
]


def build(kind: str, options: dict[str, Any]) -> Source:
    """A source of ``kind`` from its config keys (already validated by agent_config)."""
    try:
        cls = KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown source type {kind!r}: use one of {', '.join(KINDS)}") from None
    return cls(**options)


def options(kind: str) -> tuple[opts.Option, ...]:
    """Every key a ``[[sources]]`` table of ``kind`` takes: the common ones, then its own."""
    return COMMON_OPTIONS + KINDS[kind].OPTIONS


def doc_tables() -> str:
    """The Markdown of docs/agent.md's source tables: what each reads, then every key."""
    out = ["| type | reads |", "|---|---|"]
    out += ["| `%s` | %s |" % (kind, cls.about) for kind, cls in KINDS.items()]
    rows = [("every source", o) for o in COMMON_OPTIONS]
    rows += [("`%s`" % kind, o) for kind, cls in KINDS.items() for o in cls.OPTIONS]
    return "\n".join(out) + "\n\n" + opts.doc_table(rows, "source")


def sample() -> str:
    """The sample config's ``[[sources]]`` part: one commented table per type, every key."""
    parts = []
    for kind, cls in KINDS.items():
        head = '[[sources]]\n# type = "%s"' % kind
        parts.append("#\n" + opts.sample(head, cls.OPTIONS))
    return "".join(parts)
