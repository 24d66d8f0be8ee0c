"""Config keys declared once: the one check, and the docs and sample made from it.

Each source (``OPTIONS`` on its class), the ``[agent]``, ``[spool]`` and
``[[outputs]]`` tables and the connection keys declare their keys as
``Option`` records. ``read`` checks a table against them and records every
problem in a ``Problems`` (one line each: where, key, what is wrong and the
fix), so a config is reported whole before anything starts. ``doc_table`` and
``sample`` render the same declarations for docs/agent.md and the sample
config; a test keeps those files in step.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tspush.core.errors import ConfigError

# kind -> what a person should write, for error messages and the docs
KIND_TEXT: dict[str, str] = {
    "str": "a string",
    "bool": "true or false",
    "pos": "a number",
    "nonneg": "a number",
    "num": "a number",
    "number": "a number",
    "int": "an integer",
    "tags": 'a table of name = "value"',
    "strlist": 'a list of strings such as ["/", "/home"]',
    "command": 'a command line or a list such as ["sensors", "-j"]',
}
DOC_KIND: dict[str, str] = {
    "str": "string",
    "bool": "boolean",
    "pos": "number > 0",
    "nonneg": "number >= 0",
    "num": "number",
    "number": "number",
    "int": "integer > 0",
    "tags": "table",
    "strlist": "list of strings",
    "command": "string or list",
}


@dataclass(frozen=True)
class Option:
    """One config key: its kind, default, help, and an extra rule (``check``).

    ``check(value)`` returns what is wrong with a well-typed value, or None.
    ``example`` is what the sample shows when it differs from the default.
    ``secret`` keys are never printed (``--check`` shows ``***``).
    """

    name: str
    kind: str | tuple[str, ...]
    default: Any = None
    help: str = ""
    required: bool = False
    check: Callable[[Any], str | None] | None = None
    example: Any = None
    secret: bool = False


class Bad(Exception):
    """A value that does not fit its option: ``message`` says why; ``key`` names a sub-key."""

    def __init__(self, message: str, key: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.key = key


def suggest(key: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return ": did you mean '%s'?" % close[0] if close else ": known keys are " + ", ".join(known)


def toml_type(v: Any) -> str:
    kinds: tuple[tuple[type, str], ...] = (
        (bool, "boolean"),
        (int, "integer"),
        (float, "float"),
        (str, "string"),
        (dict, "table"),
        (list, "array"),
    )
    for t, name in kinds:
        if isinstance(v, t):
            return name
    return type(v).__name__


def convert(opt: Option, value: Any, from_text: bool = False) -> Any:
    """``value`` checked for ``opt`` (and converted, for environment text); Bad if wrong."""
    kind = opt.kind
    shown = value if from_text else "%r (%s)" % (value, toml_type(value))
    expected = "one of " + ", ".join(kind) if isinstance(kind, tuple) else KIND_TEXT[kind]
    bad = Bad("expected %s, got %s" % (expected, shown))
    if isinstance(kind, tuple):
        if value not in kind:
            raise Bad("%r: use one of %s" % (value, ", ".join(kind)))
    elif kind == "bool":
        if from_text:
            low = str(value).strip().lower()
            if low not in ("1", "true", "yes", "on", "0", "false", "no", "off", ""):
                raise bad
            value = low in ("1", "true", "yes", "on")
        if not isinstance(value, bool):
            raise bad
    elif kind in ("pos", "nonneg", "num", "number", "int"):
        value = _number(kind, value, from_text, bad)
    elif kind == "tags":
        value = _tags(value, bad)
    elif kind == "strlist":
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise bad
    elif kind == "command":
        ok = isinstance(value, str) and bool(value.strip())
        ok = ok or (isinstance(value, list) and bool(value))
        if not ok or (isinstance(value, list) and not all(isinstance(x, str) for x in value)):
            raise bad
    elif not isinstance(value, str):
        raise bad
    if opt.check is not None:
        why = opt.check(value)
        if why:
            raise Bad(why)
    return value


def _number(kind: str, value: Any, from_text: bool, bad: Bad) -> Any:
    if from_text:
        try:
            value = int(value) if kind == "int" else float(value)
        except ValueError:
            raise bad from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad
    if kind == "int" and not isinstance(value, int):
        raise bad
    if kind in ("pos", "int") and value <= 0:
        raise Bad("must be above 0, got %s" % value)
    if kind == "nonneg" and value < 0:
        raise Bad("must be 0 or more, got %s" % value)
    return float(value) if kind in ("pos", "nonneg", "num") else value


def _tags(value: Any, bad: Bad) -> dict[str, str]:
    if not isinstance(value, dict):
        raise bad
    for k, v in value.items():
        if not isinstance(v, (str, int, float)) or isinstance(v, bool):
            raise Bad("expected a string, got %r (%s)" % (v, toml_type(v)), "." + str(k))
    return {str(k): str(v) for k, v in value.items()}


class Problems:
    """Every problem of one config, one line each: ``WHERE: KEY: what is wrong and the fix``.

    ``unknown_in`` words an unknown key as ``unknown key 'k' in [output] of FILE``
    (the connection tables); otherwise as any other problem of that key.
    """

    def __init__(self, where: str, source: str | None = None, unknown_in: str = "") -> None:
        self.where = where
        self.source = source if source is not None else where
        self.unknown_in = unknown_in
        self.lines: list[str] = []
        self.keys: list[str] = []

    def add(self, key: str, message: str, where: str | None = None) -> None:
        self.lines.append("%s: %s: %s" % (where or self.where, key, message))
        self.keys.append(key)

    def line(self, text: str, key: str = "") -> None:
        """A problem already worded in full (a file that cannot be read, an error of a layer)."""
        self.lines.append(text)
        self.keys.append(key)

    def error(self, e: ConfigError) -> None:
        self.line(str(e), getattr(e, "key", ""))

    def unknown(self, key: str, name: str, known: Sequence[str]) -> None:
        if self.unknown_in:
            self.line("unknown key '%s' in %s%s" % (key, self.unknown_in, suggest(key, known)), key)
        else:
            self.add(name, "unknown key" + suggest(key, known))

    def raise_if_any(self) -> None:
        if self.lines:
            e = ConfigError("\n".join(self.lines))
            e.key = self.keys[0]
            e.source = self.source
            raise e


def read(
    table: Mapping[str, Any],
    options: Iterable[Option],
    probs: Problems,
    where: str = "",
    *,
    missing: str = "required",
    defaults: bool = True,
    from_text: bool = False,
) -> dict[str, Any]:
    """``table`` checked against ``options``: every problem recorded, none raised.

    Unknown keys, wrong kinds and missing required keys are all recorded.
    With ``defaults`` the result holds every option (its default where the
    table lacks it or has it wrong); without, only the keys given and good.
    """
    options = list(options)
    known = [o.name for o in options]
    for key in table:
        if key not in known:
            probs.unknown(key, _dotted(where, key), known)
    out: dict[str, Any] = {}
    for opt in options:
        if opt.name in table:
            try:
                out[opt.name] = convert(opt, table[opt.name], from_text)
                continue
            except Bad as e:
                probs.add(_dotted(where, opt.name) + e.key, e.message)
        elif opt.required:
            probs.add(_dotted(where, opt.name), "missing: " + missing)
        if defaults:
            out[opt.name] = opt.default
    return out


def _dotted(where: str, key: str) -> str:
    return "%s.%s" % (where, key) if where else key


# -- what people read ---------------------------------------------------------


def toml_value(v: Any) -> str:
    """``v`` written as TOML (the sample and the docs show defaults this way)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float, str)):
        return json.dumps(v)
    if isinstance(v, list):
        return "[%s]" % ", ".join(toml_value(x) for x in v)
    if isinstance(v, dict):
        return "{ %s }" % ", ".join("%s = %s" % (k, toml_value(x)) for k, x in v.items())
    raise TypeError(v)


def doc_kind(opt: Option) -> str:
    if isinstance(opt.kind, tuple):
        return " / ".join("`%s`" % c for c in opt.kind)
    return DOC_KIND[opt.kind]


def doc_default(opt: Option) -> str:
    if opt.required:
        return "required"
    if opt.default is None or opt.default == {}:
        return "—"
    return "`%s`" % toml_value(opt.default)


def doc_table(rows: Iterable[tuple[str, Option]], first: str = "key") -> str:
    """A Markdown table, one row per ``(label, option)``: label, key, type, default, help."""
    out = ["| %s | key | type | default | what it does |" % first, "|---|---|---|---|---|"]
    for label, opt in rows:
        out.append(
            "| %s | `%s` | %s | %s | %s |"
            % (label, opt.name, doc_kind(opt), doc_default(opt), opt.help.replace("|", "\\|"))
        )
    return "\n".join(out) + "\n"


def sample(header: str, options: Iterable[Option], width: int = 30) -> str:
    """A commented TOML table: each key with its default (or example) and its help."""
    out = ["# " + header]
    for opt in options:
        shown = opt.example if opt.example is not None else opt.default
        if shown is None:
            shown = ""
        text = "%s = %s" % (opt.name, toml_value(shown))
        out.append(("# %-*s # %s" % (width - 2, text, opt.help)).rstrip())
    return "\n".join(out) + "\n"


def section(text: str, name: str, comment: str = "<!--") -> tuple[int, int]:
    """Start and end offsets of the generated part ``name`` of a file's ``text``.

    The part sits between a ``BEGIN generated NAME`` line and an
    ``END generated NAME`` line; ``comment`` is how those lines start.
    """
    begin = "%s BEGIN generated %s" % (comment, name)
    end = "%s END generated %s" % (comment, name)
    i = text.index(begin)
    start = text.index("\n", i) + 1
    return start, text.index(end, start)


def replace_section(text: str, name: str, body: str, comment: str = "<!--") -> str:
    start, stop = section(text, name, comment)
    return text[:start] + body + text[stop:]
