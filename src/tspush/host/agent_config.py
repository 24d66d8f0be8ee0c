"""The agent's TOML config: ``[agent]``, ``[spool]``, ``[[sources]]``, ``[[outputs]]``.

Built on ``tspush.host.config``: connection keys of each ``[[outputs]]`` item
are checked by ``config.parse_table``; with no ``[[outputs]]``, the
``[output]`` table (plus ``TSPUSH_*`` variables) is the one output, so the
file ``tspush push`` uses also runs the agent. Every problem is collected
and reported at once, one line each, naming the file and the key, before
anything starts.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tspush.core.errors import ConfigError
from tspush.core.retry import Retry
from tspush.host import config as hconfig
from tspush.host import profiles

SPEC = tuple[Any, Any, bool]  # (kind, default, required)

AGENT_KEYS: dict[str, tuple[Any, Any]] = {
    "interval_s": ("pos", 10.0),
    "tags": ("tags", {}),
    "self_metrics_interval_s": ("nonneg", 60.0),
    "self_metrics_prefix": ("str", "tspush"),
    "state_file": ("str", ""),
    "state_interval_s": ("pos", 2.0),
    "summary_interval_s": ("nonneg", 60.0),
    "log_format": (("logfmt", "json"), "logfmt"),
    "log_level": (("debug", "info", "warning", "error"), "info"),
    "timestamp_unit": (("s", "ms"), "s"),
    "shutdown_flush_s": ("nonneg", 5.0),
}
SPOOL_KEYS: dict[str, tuple[Any, Any]] = {
    "dir": ("str", ""),
    "max_bytes": ("posint", 1 << 30),
    "max_age_s": ("nonneg", 7 * 86400),
    "segment_bytes": ("posint", 4 << 20),
    "sync_every_s": ("num", 0.0),
    "dead_letter_file": ("str", ""),
}
COMMON_SOURCE_KEYS: dict[str, tuple[Any, Any]] = {
    "type": ("str", None),
    "name": ("str", None),
    "interval_s": ("pos", None),
    "tags": ("tags", {}),
}
SOURCE_KEYS: dict[str, dict[str, SPEC]] = {
    "constant": {"metric": ("str", "universe", False), "value": ("number", 42, False)},
    "system": {
        "prefix": ("str", "sys", False),
        "disks": ("strlist", ["/"], False),
        "temperatures": ("bool", True, False),
    },
    "command": {
        "command": ("command", None, True),
        "format": (("auto", "lines", "json"), "auto", False),
        "timeout_s": ("pos", 10.0, False),
    },
    "file": {
        "path": ("str", None, True),
        "metric": ("str", None, True),
        "scale": ("number", 1.0, False),
        "offset": ("number", 0.0, False),
    },
    "stdin": {},
    "http_listener": {
        "listen": ("str", "127.0.0.1:4242", False),
        "token": ("str", None, False),
        "token_file": ("str", None, False),
        "token_env": ("str", None, False),
        "max_body_bytes": ("posint", 1 << 20, False),
        "max_connections": ("posint", 64, False),
        "timeout_s": ("pos", 10.0, False),
    },
}
OUTPUT_AGENT_KEYS: dict[str, tuple[Any, Any]] = {
    "name": ("str", None),
    "token_env": ("str", None),
    "flush_interval_s": ("pos", 10.0),
    "flush_jitter_s": ("nonneg", 1.0),
    "retry_backoff_s": ("pos", 1.0),
    "retry_factor": ("num", 2.0),
    "retry_cap_s": ("pos", 300.0),
    "retry_jitter": ("num", 0.2),
    "auth_backoff_s": ("pos", 300.0),
    "details": ("bool", None),
    "connections": ("posint", 1),
}


@dataclass
class SpoolConfig:
    dir: Path
    max_bytes: int = 1 << 30
    max_age_s: float = 7 * 86400
    segment_bytes: int = 4 << 20
    sync_every_s: float = 0.0
    dead_letter_file: Path | None = None


@dataclass
class SourceConfig:
    kind: str
    options: dict[str, Any]


@dataclass
class OutputConfig:
    name: str
    settings: hconfig.Settings
    flush_interval_s: float = 10.0
    flush_jitter_s: float = 1.0
    retry: Retry = field(default_factory=Retry)
    details: bool | None = None
    connections: int = 1

    def profile(self) -> profiles.Profile:
        return self.settings.make_profile()


@dataclass
class AgentConfig:
    path: Path | None
    spool: SpoolConfig
    sources: list[SourceConfig]
    outputs: list[OutputConfig]
    interval_s: float = 10.0
    tags: dict[str, str] = field(default_factory=dict)
    self_metrics_interval_s: float = 60.0
    self_metrics_prefix: str = "tspush"
    state_file: Path = Path("state.json")
    state_interval_s: float = 2.0
    summary_interval_s: float = 60.0
    log_format: str = "logfmt"
    log_level: str = "info"
    timestamp_unit: str = "s"
    shutdown_flush_s: float = 5.0

    def secrets(self) -> list[str]:
        out: list[str] = []
        for o in self.outputs:
            s = o.settings
            from tspush.core import auth

            out += auth.secret_forms(s.token, s.user or auth.DEFAULT_USER)
        for src in self.sources:
            token = src.options.get("token")
            if isinstance(token, str):
                from tspush.core import auth

                out += auth.secret_forms(token)
        return out


def default_spool_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_state_dir("tspush")) / "spool"


class _Problems:
    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: list[str] = []

    def add(self, key: str, message: str) -> None:
        self.lines.append("%s: %s: %s" % (self.source, key, message))

    def check(self, table: Mapping[str, Any], where: str, key: str, kind: Any) -> Any:
        """``table[key]`` if it has the right kind; records a problem and returns None if not."""
        v = table[key]
        name = "%s.%s" % (where, key) if where else key
        if isinstance(kind, tuple):
            if v not in kind:
                self.add(name, "%r: use one of %s" % (v, ", ".join(kind)))
                return None
            return v
        num = isinstance(v, (int, float)) and not isinstance(v, bool)
        if kind == "str":
            if not isinstance(v, str):
                self.add(name, "expected a string, got %r" % (v,))
                return None
            return v
        if kind == "bool":
            if not isinstance(v, bool):
                self.add(name, "expected true or false, got %r" % (v,))
                return None
            return v
        if kind in ("pos", "nonneg", "num", "number"):
            if not num:
                self.add(name, "expected a number, got %r" % (v,))
                return None
            if kind == "pos" and v <= 0:
                self.add(name, "must be above 0, got %r" % (v,))
                return None
            if kind == "nonneg" and v < 0:
                self.add(name, "must be 0 or more, got %r" % (v,))
                return None
            return float(v) if kind != "number" else v
        if kind == "posint":
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                self.add(name, "expected a whole number above 0, got %r" % (v,))
                return None
            return v
        if kind == "tags":
            if not isinstance(v, dict) or not all(
                isinstance(x, (str, int, float)) and not isinstance(x, bool) for x in v.values()
            ):
                self.add(name, 'expected a table of name = "value", got %r' % (v,))
                return None
            return {str(k): str(x) for k, x in v.items()}
        if kind == "strlist":
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                self.add(name, 'expected a list of strings such as ["/", "/home"], got %r' % (v,))
                return None
            return v
        if kind == "command":
            ok = bool(isinstance(v, str) and v.strip())
            ok = ok or bool(isinstance(v, list) and v and all(isinstance(x, str) for x in v))
            if not ok:
                self.add(name, 'expected a command line or a list such as ["sensors", "-j"]')
                return None
            return v
        raise AssertionError(kind)

    def unknown(self, table: Mapping[str, Any], where: str, known: list[str]) -> None:
        for key in table:
            if key not in known:
                self.add(
                    "%s.%s" % (where, key) if where else key,
                    "unknown key" + hconfig.suggest(key, known),
                )


def _holds_token(doc: Mapping[str, Any]) -> bool:
    outs = doc.get("outputs")
    tables = [doc.get("output"), *(outs if isinstance(outs, list) else [])]
    return any(isinstance(t, dict) and t.get("token") for t in tables)


def load(
    path: str | Path | None,
    environ: Mapping[str, str] | None = None,
    need_tokens: bool = True,
) -> AgentConfig:
    """Read and check the agent config; ConfigError listing every problem at once.

    ``need_tokens=False`` (``tspush status``) does not read token files or
    variables, nor insist on an output: the state file is all it needs."""
    environ = os.environ if environ is None else environ
    found = hconfig.find_config(str(path) if path else environ.get("TSPUSH_CONFIG") or None)
    doc: dict[str, Any] = hconfig.load_toml(found) if found else {}
    src = str(found) if found else "(no config file)"
    if found and _holds_token(doc):
        hconfig.warn_if_readable(found, lambda m: print(m, file=sys.stderr))
    probs = _Problems(src)

    agent_t = _table(doc, "agent", probs)
    probs.unknown(agent_t, "agent", list(AGENT_KEYS))
    agent_vals = _values(agent_t, "agent", AGENT_KEYS, probs)

    spool_t = _table(doc, "spool", probs)
    probs.unknown(spool_t, "spool", list(SPOOL_KEYS))
    sv = _values(spool_t, "spool", SPOOL_KEYS, probs)
    spool_dir = Path(sv["dir"]).expanduser() if sv.get("dir") else default_spool_dir()
    if isinstance(sv.get("segment_bytes"), int) and isinstance(sv.get("max_bytes"), int):
        if sv["segment_bytes"] < 256 or sv["max_bytes"] < 2 * sv["segment_bytes"]:
            probs.add(
                "spool.max_bytes",
                "%d must be at least twice spool.segment_bytes (%d), and segments at least 256"
                % (sv["max_bytes"], sv["segment_bytes"]),
            )
    spool = SpoolConfig(
        dir=spool_dir,
        max_bytes=sv["max_bytes"],
        max_age_s=sv["max_age_s"],
        segment_bytes=sv["segment_bytes"],
        sync_every_s=sv["sync_every_s"],
        dead_letter_file=Path(sv["dead_letter_file"]).expanduser()
        if sv.get("dead_letter_file")
        else None,
    )

    file_tags: dict[str, str] = {}
    try:
        # [output] and [tags] only: each [[outputs]] table is read by _outputs below
        top = {k: v for k, v in doc.items() if k != "outputs"}
        base = hconfig.file_settings(top, src) if found else {}
        file_tags = dict(base.get("tags") or {})
    except ConfigError as e:
        probs.lines.append(e.message if e.message.startswith(src) else "%s: %s" % (src, e.message))
    tags = dict(file_tags)
    tags.update(agent_vals.get("tags") or {})

    sources = _sources(doc, probs, agent_vals["interval_s"] or 10.0, environ, need_tokens)
    outputs = _outputs(doc, found, environ, probs, need_tokens)

    if probs.lines:
        raise ConfigError("\n".join(probs.lines))
    state = (
        Path(agent_vals["state_file"]).expanduser()
        if agent_vals.get("state_file")
        else spool_dir / "state.json"
    )
    return AgentConfig(
        path=found,
        spool=spool,
        sources=sources,
        outputs=outputs,
        interval_s=agent_vals["interval_s"],
        tags=tags,
        self_metrics_interval_s=agent_vals["self_metrics_interval_s"],
        self_metrics_prefix=agent_vals["self_metrics_prefix"],
        state_file=state,
        state_interval_s=agent_vals["state_interval_s"],
        summary_interval_s=agent_vals["summary_interval_s"],
        log_format=agent_vals["log_format"],
        log_level=agent_vals["log_level"],
        timestamp_unit=agent_vals["timestamp_unit"],
        shutdown_flush_s=agent_vals["shutdown_flush_s"],
    )


def _table(doc: Mapping[str, Any], name: str, probs: _Problems) -> dict[str, Any]:
    t = doc.get(name, {})
    if not isinstance(t, dict):
        probs.add(name, "must be a table: write [%s] on its own line" % name)
        return {}
    return t


def _values(
    table: Mapping[str, Any], where: str, keys: Mapping[str, tuple[Any, Any]], probs: _Problems
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, (kind, default) in keys.items():
        if key in table:
            v = probs.check(table, where, key, kind)
            out[key] = default if v is None else v
        else:
            out[key] = default
    return out


def _sources(
    doc: Mapping[str, Any],
    probs: _Problems,
    interval_s: float,
    environ: Mapping[str, str],
    need_tokens: bool = True,
) -> list[SourceConfig]:
    items = doc.get("sources", [])
    if not isinstance(items, list):
        probs.add("sources", "write each source as a [[sources]] table")
        return []
    out: list[SourceConfig] = []
    names: set[str] = set()
    for i, item in enumerate(items):
        where = "sources[%d]" % i
        if not isinstance(item, dict):
            probs.add(where, "must be a table")
            continue
        kind = item.get("type")
        if not isinstance(kind, str) or kind not in SOURCE_KEYS:  # a list is unhashable
            probs.add(
                where + ".type",
                "%r: use one of %s" % (kind, ", ".join(SOURCE_KEYS))
                if kind is not None
                else 'missing: say which source, e.g. type = "system"',
            )
            continue
        spec = SOURCE_KEYS[kind]
        probs.unknown(item, where, list(COMMON_SOURCE_KEYS) + list(spec))
        opts: dict[str, Any] = {}
        for key, (k, _) in COMMON_SOURCE_KEYS.items():
            if key in item and key != "type":
                v = probs.check(item, where, key, k)
                if v is not None:
                    opts[key] = v
        for key, (k, _default, required) in spec.items():
            if key in item:
                v = probs.check(item, where, key, k)
                if v is not None:
                    opts[key] = v
            elif required:
                probs.add("%s.%s" % (where, key), "missing: a %s source needs it" % kind)
        name = opts.get("name") or (kind if kind not in names else "%s-%d" % (kind, i))
        if name in names:
            probs.add(where + ".name", "%r is used twice: give each source its own name" % name)
        names.add(name)
        opts["name"] = name
        opts.setdefault("interval_s", interval_s if kind != "stdin" else 1.0)
        if kind == "http_listener":
            _listener_token(opts, where, probs, environ, need_tokens)
        out.append(SourceConfig(kind, opts))
    return out


def _listener_token(
    opts: dict[str, Any],
    where: str,
    probs: _Problems,
    environ: Mapping[str, str],
    need_tokens: bool,
) -> None:
    """The device token: ``token``, else ``token_file``, else ``token_env`` (as outputs)."""
    token_file = opts.pop("token_file", None)
    token_env = opts.pop("token_env", None)
    if opts.get("token") or not need_tokens:
        return
    if token_file:
        try:
            opts["token"] = hconfig._read_token_file(token_file, probs.source)
        except ConfigError as e:
            probs.lines.append(str(e))
        else:
            hconfig.warn_if_readable(
                Path(token_file).expanduser(), lambda m: print(m, file=sys.stderr)
            )
    elif token_env:
        value = environ.get(token_env)
        if not value:
            probs.add(
                where + ".token_env",
                "the variable %s is not set or empty: export it before starting" % token_env,
            )
        else:
            opts["token"] = value


def _check_connection(settings: hconfig.Settings, where: str, probs: _Problems) -> None:
    """What the transport would refuse at start-up, found by ``--check`` already."""
    from urllib3.util import parse_url

    from tspush.host.transport import CREDENTIALS_IN_URL, check_ca_file

    url = settings.url or ""
    try:
        u = parse_url(url)
        ok = u.scheme in ("http", "https") and bool(u.host)
    except ValueError:
        ok = False
    if ok and u.auth:
        settings.url = url.replace(u.auth + "@", "", 1)  # never printed, not even by --check
        probs.add(where + ".url", CREDENTIALS_IN_URL)
    elif not ok:
        probs.add(where + ".url", "%r is not an http(s) URL: write it as https://HOST[:PORT]" % url)
    elif settings.ca_file and not settings.insecure and u.scheme == "https":
        try:
            check_ca_file(settings.ca_file, where + ".ca_file")
        except ConfigError as e:
            probs.lines.append("%s: %s" % (probs.source, e))


def _outputs(
    doc: Mapping[str, Any],
    found: Path | None,
    environ: Mapping[str, str],
    probs: _Problems,
    need_tokens: bool = True,
) -> list[OutputConfig]:
    src = probs.source
    items = doc.get("outputs")
    if items is None:
        # The [output] table and TSPUSH_* variables, as `tspush push` reads them.
        try:
            s = hconfig.resolve({}, environ, str(found) if found else None, warn=lambda m: None)
        except ConfigError as e:
            probs.lines.append(str(e))
            return []
        if not s.url:
            if not need_tokens:
                return []  # tspush status: the state file is enough
            probs.add(
                "outputs",
                "no output: add an [[outputs]] table with url = ..., or set url in [output] "
                "or TSPUSH_URL",
            )
            return []
        _check_connection(s, "output", probs)
        return [OutputConfig(name="default", settings=s, details=None)]
    if not isinstance(items, list) or not items:
        probs.add("outputs", "write each output as an [[outputs]] table")
        return []
    out: list[OutputConfig] = []
    names: set[str] = set()
    for i, item in enumerate(items):
        where = "outputs[%d]" % i
        if not isinstance(item, dict):
            probs.add(where, "must be a table")
            continue
        mine = {k: item[k] for k in item if k in OUTPUT_AGENT_KEYS}
        conn = {k: item[k] for k in item if k not in OUTPUT_AGENT_KEYS}
        av = _values(mine, where, OUTPUT_AGENT_KEYS, probs)
        name = av.get("name") or ("default" if len(items) == 1 else "output-%d" % i)
        if not all(c.isalnum() or c in "-_" for c in name):
            probs.add(where + ".name", "%r: use letters, digits, '-' and '_'" % name)
        if name in names:
            probs.add(where + ".name", "%r is used twice: give each output its own name" % name)
        names.add(name)
        try:
            parsed = hconfig.parse_table(conn, "[[outputs]] #%d of %s" % (i, src), src)
        except ConfigError as e:
            probs.lines.append(str(e))
            continue
        settings = hconfig.Settings(config_path=found)
        for k, v in parsed.items():
            if k not in ("token", "token_file"):
                setattr(settings, k, v)
        token = parsed.get("token")
        if token is None and parsed.get("token_file") and need_tokens:
            try:
                token = hconfig._read_token_file(parsed["token_file"], src)
            except ConfigError as e:
                probs.lines.append(str(e))
        if token is None and av.get("token_env"):
            token = environ.get(av["token_env"])
            if not token and need_tokens:
                probs.add(
                    where + ".token_env",
                    "the variable %s is not set or empty: export it before starting"
                    % av["token_env"],
                )
        settings.token = token or None
        if not settings.url:
            probs.add(where + ".url", "missing: where should this output send?")
        else:
            _check_connection(settings, where, probs)
        if not 0 <= av["retry_jitter"] <= 1 or av["retry_factor"] < 1:
            probs.add(where, "retry_jitter must be within 0..1 and retry_factor at least 1")
            continue
        out.append(
            OutputConfig(
                name=name,
                settings=settings,
                flush_interval_s=av["flush_interval_s"],
                flush_jitter_s=av["flush_jitter_s"],
                retry=Retry(
                    backoff_s=av["retry_backoff_s"],
                    factor=av["retry_factor"],
                    cap_s=av["retry_cap_s"],
                    jitter=av["retry_jitter"],
                    auth_backoff_s=av["auth_backoff_s"],
                ),
                details=av.get("details"),
                connections=av["connections"],
            )
        )
    return out
