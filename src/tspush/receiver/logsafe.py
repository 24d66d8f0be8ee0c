"""Log lines that a client cannot forge or use to drive the terminal.

Paths, metric names and tag values come from the network and end up in the
log (refusals name them). A newline in one would forge a log line; an escape
sequence would recolour, retitle or clear the terminal of whoever reads it.
Every control character (C0, DEL, C1), and the Unicode line separators and
bidirectional overrides, is written as a visible escape instead.
"""

from __future__ import annotations

import logging

_UNSAFE = (
    list(range(0x00, 0x20))
    + list(range(0x7F, 0xA0))
    + [0x2028, 0x2029]
    + list(range(0x202A, 0x202F))
    + list(range(0x2066, 0x206A))
)
_TABLE = {c: ("\\x%02x" % c if c < 0x100 else "\\u%04x" % c) for c in _UNSAFE}


def escape_controls(text: str) -> str:
    """``text`` with every control character shown as ``\\xNN`` or ``\\uNNNN``."""
    return text.translate(_TABLE)


class SafeFormatter(logging.Formatter):
    """A Formatter whose message part never holds a raw control character.

    The traceback of an internal error (our own code's text) is added as
    usual, on its own lines.
    """

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape_controls(record.message)
        return super().formatMessage(record)
