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
from tspush.host.options import Option, Problems, doc_table, read, sample
from tspush.host.sources import KINDS
from tspush.host.sources import options as source_options
from tspush.host.sources.base import COMMON_OPTIONS


def _ratio(v: float) -> str | None:
    return None if 0 <= v <= 1 else "%s: must be within 0..1 (0.2 spreads waits by +/- 20%%)" % v


def _factor(v: float) -> str | None:
    return (
        None if v >= 1 else "%s: must be at least 1 (each wait as long as the last, or longer)" % v
    )


def _output_name(v: str) -> str | None:
    if all(c.isalnum() or c in "-_" for c in v):
        return None
    return "%r: use letters, digits, '-' and '_'" % v


LOG_LEVELS = ("debug", "info", "warning", "error")
# [agent], [spool] and the agent's own keys of [[outputs]], each declared once.
AGENT_OPTIONS: tuple[Option, ...] = (
    Option("interval_s", "pos", 10.0, "default seconds between two readings of a source"),
    Option("tags", "tags", {}, "added to every point the agent samples"),
    Option("self_metrics_interval_s", "nonneg", 60.0, "the agent's own figures (0: off)"),
    Option("self_metrics_prefix", "str", "tspush", "their metric name prefix"),
    Option("state_file", "str", "", "default: state.json in the spool directory"),
    Option("state_interval_s", "pos", 2.0, "how often the state file is written"),
    Option("summary_interval_s", "nonneg", 60.0, "one log line per output (0: off)"),
    Option("log_format", ("logfmt", "json"), "logfmt", "one line per event"),
    Option("log_level", LOG_LEVELS, "info", "lines below it are not written"),
    Option("timestamp_unit", ("s", "ms"), "s", "timestamps given to readings"),
    Option("shutdown_flush_s", "nonneg", 5.0, "on SIGTERM: time to empty the spool"),
)
SPOOL_OPTIONS: tuple[Option, ...] = (
    Option("dir", "str", "", "default: the user state directory"),
    Option("max_bytes", "int", 1 << 30, "the oldest points are dropped (and counted) above it"),
    Option("max_age_s", "nonneg", 7 * 86400, "points older than this are dropped (0: no limit)"),
    Option("segment_bytes", "int", 4 << 20, "one segment file; at most half of max_bytes"),
    Option("sync_every_s", "num", 0.0, "fsync: 0 every append, N at most every N s, -1 the OS"),
    Option("dead_letter_file", "str", "", "default: dead-letter.jsonl in the spool directory"),
)
OUTPUT_OPTIONS: tuple[Option, ...] = (
    Option(
        "name",
        "str",
        None,
        "letters, digits, - and _; names its spool cursor (default: default, output-N)",
        check=_output_name,
        example="default",
    ),
    Option(
        "token_env",
        "str",
        None,
        "read the token from this environment variable",
        example="TSPUSH_TOKEN",
    ),
    Option(
        "flush_interval_s", "pos", 10.0, "send at least this often (sooner when a batch is full)"
    ),
    Option("flush_jitter_s", "nonneg", 1.0, "+/- this much, so many agents do not send in step"),
    Option("retry_backoff_s", "pos", 1.0, "429/5xx/network: wait 1, 2, 4 ... seconds,"),
    Option("retry_factor", "num", 2.0, "each wait this many times the last,", check=_factor),
    Option("retry_cap_s", "pos", 300.0, "at most this long,"),
    Option(
        "retry_jitter",
        "num",
        0.2,
        "spread by +/- 20%; a Retry-After answer wins",
        check=_ratio,
    ),
    Option("auth_backoff_s", "pos", 300.0, "401/403: keep everything, retry this slowly"),
    Option(
        "details",
        "bool",
        None,
        "ask ?details so only refused points are dead-lettered (default: the profile's)",
        example=True,
    ),
    Option(
        "connections",
        "int",
        1,
        "batches in flight, acked in spool order; after a crash up to this many are sent again",
    ),
)
# name -> Option views, for code and tests that look keys up
AGENT_KEYS = {o.name: o for o in AGENT_OPTIONS}
SPOOL_KEYS = {o.name: o for o in SPOOL_OPTIONS}
OUTPUT_AGENT_KEYS = {o.name: o for o in OUTPUT_OPTIONS}
COMMON_SOURCE_KEYS = {o.name: o for o in COMMON_OPTIONS}
SOURCE_KEYS = {kind: {o.name: o for o in cls.OPTIONS} for kind, cls in KINDS.items()}


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
    probs = Problems(src)
    agent_vals = read(_table(doc, "agent", probs), AGENT_OPTIONS, probs, "agent")
    sv = read(_table(doc, "spool", probs), SPOOL_OPTIONS, probs, "spool")
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
        probs.line(e.message if e.message.startswith(src) else "%s: %s" % (src, e.message))
    tags = dict(file_tags)
    tags.update(agent_vals.get("tags") or {})

    sources = _sources(doc, probs, agent_vals["interval_s"] or 10.0, environ, need_tokens)
    outputs = _outputs(doc, found, environ, probs, need_tokens)

    probs.raise_if_any()
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


def _table(doc: Mapping[str, Any], name: str, probs: Problems) -> dict[str, Any]:
    t = doc.get(name, {})
    if not isinstance(t, dict):
        probs.add(name, "must be a table: write [%s] on its own line" % name)
        return {}
    return t


def _sources(
    doc: Mapping[str, Any],
    probs: Problems,
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
        if not isinstance(kind, str) or kind not in KINDS:  # a list is unhashable
            probs.add(
                where + ".type",
                "%r: use one of %s" % (kind, ", ".join(KINDS))
                if kind is not None
                else 'missing: say which source, e.g. type = "system"',
            )
            continue
        spec = source_options(kind)
        opts = read(item, spec, probs, where, missing="a %s source needs it" % kind, defaults=False)
        opts.pop("type", None)
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
    probs: Problems,
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
            probs.error(e)
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


def _check_connection(settings: hconfig.Settings, where: str, probs: Problems) -> None:
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
            probs.line("%s: %s" % (probs.source, e))


def _outputs(
    doc: Mapping[str, Any],
    found: Path | None,
    environ: Mapping[str, str],
    probs: Problems,
    need_tokens: bool = True,
) -> list[OutputConfig]:
    src = probs.source
    items = doc.get("outputs")
    if items is None:
        # The [output] table and TSPUSH_* variables, as `tspush push` reads them.
        try:
            s = hconfig.resolve({}, environ, str(found) if found else None, warn=lambda m: None)
        except ConfigError as e:
            probs.error(e)
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
        keys_before = len(probs.keys)
        av = read(item, OUTPUT_OPTIONS + hconfig.CONNECTION_OPTIONS, probs, where)
        name = av.get("name") or ("default" if len(items) == 1 else "output-%d" % i)
        if name in names:
            probs.add(where + ".name", "%r is used twice: give each output its own name" % name)
        names.add(name)
        settings = hconfig.Settings(config_path=found)
        for k in hconfig.CONNECTION_KEYS:
            if k in item and k not in ("token", "token_file"):
                setattr(settings, k, av[k])
        settings.tags = dict(av["tags"] or {})
        token = av["token"]
        if token is None and av["token_file"] and need_tokens:
            try:
                token = hconfig._read_token_file(av["token_file"], src)
            except ConfigError as e:
                probs.error(e)
        if token is None and av.get("token_env"):
            token = environ.get(av["token_env"])
            if not token and need_tokens:
                probs.add(
                    where + ".token_env",
                    "the variable %s is not set or empty: export it before starting"
                    % av["token_env"],
                )
        settings.token = token or None
        if not item.get("url") and where + ".url" not in probs.keys[keys_before:]:
            probs.add(where + ".url", "missing: where should this output send?")
        elif settings.url:
            _check_connection(settings, where, probs)
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


# -- the docs and the sample, made from the declarations above ------------------

DOC_FILE = "docs/agent.md"
SAMPLE_FILE = "src/tspush/sample-config.toml"


def generated() -> dict[str, dict[str, str]]:
    """File (relative to the repository) -> generated part name -> its text.

    ``python tools/config_docs.py`` writes them; a test checks the files hold them.
    """
    from tspush.host import sources

    rows = [("`[agent]`", o) for o in AGENT_OPTIONS] + [("`[spool]`", o) for o in SPOOL_OPTIONS]
    return {
        DOC_FILE: {
            "sources": sources.doc_tables(),
            "outputs": doc_table([("`[[outputs]]`", o) for o in OUTPUT_OPTIONS], "table"),
            "agent": doc_table(rows, "table"),
        },
        SAMPLE_FILE: {
            "sources": sources.sample(),
            "outputs": sample(
                '[[outputs]]\n# url = "https://opentsdb.example.net"', OUTPUT_OPTIONS
            ),
        },
    }


def comment_of(path: str) -> str:
    """How a generated part's BEGIN/END lines start in ``path``."""
    return "#" if path.endswith(".toml") else "<!--"
