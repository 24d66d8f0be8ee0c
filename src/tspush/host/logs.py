"""One logger for ``tspush run`` and ``tspush serve``: stdlib ``logging``, one line per event.

Every line, ours or a library's, goes through one ``LineHandler``: its
``Redact`` filter masks every token form the process knows (message,
fields and traceback), and its ``LineFormatter`` writes logfmt
(``ts=... level=... msg="..." key=value``) or JSON with every control
character escaped, so what a client or a source sends can neither forge a
line nor drive the terminal. ``Logger`` is the agent's ``log(level, msg,
**fields)`` call on top of the same handler.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterable
from typing import Any, TextIO

from tspush.core.auth import redact

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}
NAMES = {10: "debug", 20: "info", 30: "warning", 40: "error", 50: "error"}
OWN = "tspush.agent"  # the logger name of Logger's own lines
QUIET_LIBRARIES = {"urllib3": logging.WARNING}  # their info lines say nothing to a user

_UNSAFE = (
    list(range(0x00, 0x20))
    + list(range(0x7F, 0xA0))
    + [0x2028, 0x2029]
    + list(range(0x202A, 0x202F))
    + list(range(0x2066, 0x206A))
)
_TABLE = {c: ("\\x%02x" % c if c < 0x100 else "\\u%04x" % c) for c in _UNSAFE}
_QUOTED = {**_TABLE, ord('"'): '\\"', ord("\\"): "\\\\"}


def escape_controls(text: str) -> str:
    """``text`` with every control character (C0, DEL, C1, line separators, bidi
    overrides) written as a visible ``\\xNN`` or ``\\uNNNN``."""
    return text.translate(_TABLE)


class Redact(logging.Filter):
    """Masks every known token form in a record before any formatter sees it."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def add(self, secrets: Iterable[str]) -> None:
        self.secrets += [s for s in secrets if s and s not in self.secrets]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        record.msg = redact(record.getMessage(), self.secrets)
        record.args = None
        fields = getattr(record, "fields", None)
        if fields:
            record.fields = {k: redact(str(v), self.secrets) for k, v in fields.items()}
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text, self.secrets)
            record.exc_info = None
        return True


class LineFormatter(logging.Formatter):
    """One line per record, logfmt or JSON; ``record.fields`` become ``key=value`` pairs."""

    def __init__(self, fmt: str = "logfmt") -> None:
        super().__init__()
        self.fmt = fmt

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))
        fields: dict[str, Any] = {}
        if not getattr(record, "tspush_own", False):  # a source's or a library's line
            fields["logger"] = record.name
        fields.update(getattr(record, "fields", None) or {})
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            fields["error"] = record.exc_text
        level = NAMES.get(record.levelno, "info")
        msg = record.getMessage()
        if self.fmt == "json":
            doc: dict[str, Any] = {"ts": ts, "level": level, "msg": escape_controls(msg)}
            doc.update({k: _json_safe(v) for k, v in fields.items()})
            return json.dumps(doc, default=str)
        parts = ["ts=" + ts, "level=" + level, "msg=" + _quote(msg)]
        parts += ["%s=%s" % (k, _quote(str(v))) for k, v in fields.items()]
        return " ".join(parts)


def _json_safe(v: Any) -> Any:
    return escape_controls(v) if isinstance(v, str) else v


def _quote(s: str) -> str:
    """A logfmt value: bare when plain, else quoted, its quotes and backslashes escaped
    and control characters written as visible escapes (no value can close its quotes)."""
    if s and all(c.isalnum() or c in "-_./:@+" for c in s):
        return s
    return '"' + s.translate(_QUOTED) + '"'


class LineHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler with the redaction filter and the line formatter in place.

    A closed or broken stream loses the line, never the program.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        fmt: str = "logfmt",
        level: str = "info",
        secrets: Iterable[str] = (),
    ) -> None:
        super().__init__(stream if stream is not None else sys.stderr)
        self.redact = Redact(secrets)
        self.addFilter(self.redact)
        self.setFormatter(LineFormatter(fmt))
        self.setLevel(LEVELS.get(level, 20))

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - stdlib's name
        pass


def attach(handler: logging.Handler, *names: str, only: bool = False) -> list[str]:
    """Send the stdlib loggers ``names`` (and their children) to ``handler``.

    ``only``: to it alone (``tspush serve`` owns its process); otherwise
    beside handlers already there (several agents in one test process).
    Returns the names it was not attached to before (what ``detach`` undoes).
    """
    added = []
    for name in names:
        lg = logging.getLogger(name)
        if only:
            lg.handlers[:] = []
        if handler not in lg.handlers:
            lg.addHandler(handler)
            added.append(name)
        level = min(handler.level, lg.level or logging.CRITICAL)
        lg.setLevel(max(level, QUIET_LIBRARIES.get(name, 0)))
        lg.propagate = False
    return added


def detach(handler: logging.Handler, *names: str) -> None:
    for name in names:
        lg = logging.getLogger(name)
        lg.removeHandler(handler)
        if not lg.handlers:
            lg.propagate = True


class Logger:
    """``log(level, msg, **fields)``: one record through the handler; tokens masked.

    ``stream``, ``fmt``, ``level`` and ``secrets`` make a handler; or pass
    one (``tspush serve`` shares its own with the relay).
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        fmt: str = "logfmt",
        level: str = "info",
        secrets: list[str] | None = None,
        handler: LineHandler | None = None,
    ) -> None:
        self.handler = handler or LineHandler(stream, fmt, level, secrets or [])

    @property
    def secrets(self) -> list[str]:
        return self.handler.redact.secrets

    def __call__(self, level: str, msg: str, **fields: Any) -> None:
        levelno = LEVELS.get(level, 20)
        if levelno < self.handler.level:
            return
        record = logging.LogRecord(OWN, levelno, "", 0, msg, None, None)
        record.fields = fields
        record.tspush_own = True
        self.handler.handle(record)
