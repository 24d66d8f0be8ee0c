"""Connection settings from flags, ``TSPUSH_*`` variables and a TOML file.

Precedence: flags > environment > file > the profile's defaults. The file is
``--config FILE``, else ``./tspush.toml``, else ``tspush.toml`` in the user
config directory (platformdirs). Connection keys live in ``[output]``,
default tags in ``[tags]``; other tables (``[spool]``, ``[[sources]]``,
``[[outputs]]`` ...) belong to the agent and are checked by it. Every error
names the key and where it came from, with the fix.
"""

from __future__ import annotations

import os
import stat
import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from tspush.core import auth
from tspush.core import fingerprint as fp
from tspush.core.errors import ConfigError
from tspush.core.point import MODES
from tspush.host import options as opts
from tspush.host import profiles
from tspush.host.options import Option

FILE_NAME = "tspush.toml"
# The one explanation of --config, for every command that takes it.
CONFIG_HELP = (
    "TOML config file. Default: $TSPUSH_CONFIG, else ./tspush.toml, "
    "else tspush.toml in the user config directory."
)
SECTION = "output"
TAGS_SECTION = "tags"
ENV_PREFIX = "TSPUSH_"


def _profile_problem(v: str) -> str | None:
    if v in profiles.PROFILES:
        return None
    return "unknown profile %r: use one of %s" % (v, ", ".join(sorted(profiles.PROFILES)))


def _auth_problem(v: str) -> str | None:
    if v in auth.SCHEMES:
        return None
    return "unknown scheme %r: use one of %s" % (v, ", ".join(auth.SCHEMES))


def _mode_problem(v: str) -> str | None:
    if v in MODES:
        return None
    return (
        "%r: use 'strict' (OpenTSDB rules), 'lenient' (OVH, VictoriaMetrics) "
        "or 'open' (any UTF-8 name: Influx, remote write)" % v
    )


def _fingerprint_problem(v: str) -> str | None:
    if v:
        try:
            fp.parse(v, "")
        except ConfigError as e:
            return e.message
    return None


def _max_bytes_problem(v: int) -> str | None:
    if v < MIN_BYTES:
        return "%d is too small for one point; use at least %d" % (v, MIN_BYTES)
    return None


MIN_BYTES = 64
# The connection keys of [output] and of each [[outputs]] item, declared once.
CONNECTION_OPTIONS: tuple[Option, ...] = (
    Option("url", "str", None, "where points go: https://HOST[:PORT][/path]"),
    Option(
        "token", "str", None, "the write token (prefer token_file or TSPUSH_TOKEN)", secret=True
    ),
    Option("token_file", "str", None, "a file whose first line is the token"),
    Option("profile", "str", profiles.DEFAULT_PROFILE, "engine preset", check=_profile_problem),
    Option("auth", "str", None, "basic, bearer, token, warp10, none", check=_auth_problem),
    Option("user", "str", None, "the Basic auth user name"),
    Option("fingerprint", "str", None, "pin the server's certificate", check=_fingerprint_problem),
    Option("insecure", "bool", False, "do not check the server's certificate"),
    Option("ca_file", "str", None, "check the server against this CA bundle (PEM)"),
    Option("connect_timeout_s", "pos", 5.0, "seconds to wait for the TCP+TLS connection"),
    Option("read_timeout_s", "pos", 30.0, "seconds to wait for the answer"),
    Option("gzip", "bool", False, "compress request bodies"),
    Option("mode", "str", None, "strict, lenient or open", check=_mode_problem),
    Option("max_points", "int", None, "points per request"),
    Option("max_bytes", "int", None, "bytes per request", check=_max_bytes_problem),
    Option("tags", "tags", {}, "default tags"),
)
_OPTIONS = {o.name: o for o in CONNECTION_OPTIONS}
CONNECTION_KEYS = tuple(k for k in _OPTIONS if k != "tags")


def _error(message: str, key: str, source: str) -> ConfigError:
    e = ConfigError(message)
    e.key = key
    e.source = source
    return e


# -- reading files -------------------------------------------------------------


def load_toml(path: str | Path) -> dict[str, Any]:
    """The parsed file; ConfigError naming the file (and the line, for bad TOML)."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise _error("%s: invalid TOML: %s" % (p, e), "", str(p)) from e
    except FileNotFoundError as e:
        raise _error("%s: config file not found" % p, "", str(p)) from e
    except OSError as e:
        raise _error("%s: cannot read config file: %s" % (p, e.strerror or e), "", str(p)) from e
    except UnicodeDecodeError as e:
        raise _error("%s: invalid TOML: not UTF-8 text (%s)" % (p, e), "", str(p)) from e


def user_config_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir("tspush")) / FILE_NAME


def find_config(explicit: str | None, cwd: Path | None = None) -> Path | None:
    """``explicit`` (must exist), else ./tspush.toml, else the user config file, else None."""
    if explicit:
        p = Path(explicit).expanduser()
        if not p.is_file():
            raise _error(
                "%s: config file not found (given with --config or TSPUSH_CONFIG)" % p,
                "config",
                str(p),
            )
        return p
    local = (cwd or Path.cwd()) / FILE_NAME
    if local.is_file():
        return local
    user = user_config_path()
    if user.is_file():
        return user
    return None


# -- checking values (tspush.host.options, the one engine) -------------------


def _tags_from_text(text: str, where: str, source: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for item in text.replace(";", ",").split(","):
        item = item.strip()
        if not item:
            continue
        k, sep, v = item.partition("=")
        if not sep or not k.strip():
            raise _error(
                "%s: tag %r is not key=value (write k1=v1,k2=v2)" % (where, item), "tags", source
            )
        tags[k.strip()] = v.strip()
    return tags


def parse_table(
    table: Mapping[str, Any], where: str, source: str, probs: opts.Problems | None = None
) -> dict[str, Any]:
    """Check one connection table (``[output]`` or an ``[[outputs]]`` item); unknown keys fail.

    Every problem is reported at once: in ``probs`` when given, else raised together.
    """
    mine = probs or opts.Problems(where, source, unknown_in=where)
    out = opts.read(table, CONNECTION_OPTIONS, mine, defaults=False)
    if probs is None:
        mine.raise_if_any()
    return out


def file_settings(doc: Mapping[str, Any], path: str | Path) -> dict[str, Any]:
    """Connection keys and tags from a parsed file, checked."""
    src = str(path)
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if isinstance(value, (dict, list)):
            continue  # tables: ours below, the rest belong to the agent
        if key in _OPTIONS:
            raise _error(
                "%s: key '%s' must be inside the [%s] table: add a line [%s] above it"
                % (src, key, SECTION, SECTION),
                key,
                src,
            )
        raise _error("%s: unknown top-level key '%s'" % (src, key), key, src)
    section = doc.get(SECTION)
    outputs = doc.get("outputs")
    if section is None and isinstance(outputs, list) and len(outputs) == 1:
        # An agent config with one [[outputs]] (the README's): `tspush push` sends
        # to that same server. The agent's own keys (name, flush_*, ...) are not ours.
        only = outputs[0] if isinstance(outputs[0], dict) else {}
        out.update(
            parse_table(
                {k: v for k, v in only.items() if k in _OPTIONS}, "[[outputs]] of %s" % src, src
            )
        )
        if isinstance(only.get("token_env"), str) and "token" not in out:
            out["token_env"] = only["token_env"]
    elif section is not None:
        if not isinstance(section, dict):
            raise _error("%s: [%s] must be a table" % (src, SECTION), SECTION, src)
        out.update(parse_table(section, "[%s] of %s" % (SECTION, src), src))
    tags = doc.get(TAGS_SECTION)
    if tags is not None:
        where = "[%s] of %s" % (TAGS_SECTION, src)
        probs = opts.Problems(where, src)
        got = opts.read({"tags": tags}, [_OPTIONS["tags"]], probs, defaults=False)
        probs.raise_if_any()
        out["tags"] = {**(out.get("tags") or {}), **got["tags"]}
    return out


def env_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """Connection keys from ``TSPUSH_URL``, ``TSPUSH_TOKEN``, ... (unknown names are ignored)."""
    out: dict[str, Any] = {}
    probs = opts.Problems("environment")
    for opt in CONNECTION_OPTIONS:
        name = ENV_PREFIX + opt.name.upper()
        if name not in environ:
            continue
        if opt.kind == "tags":
            try:
                out[opt.name] = _tags_from_text(environ[name], name, name)
            except ConfigError as e:
                probs.error(e)
            continue
        try:
            out[opt.name] = opts.convert(opt, environ[name], from_text=True)
        except opts.Bad as e:
            probs.add(opt.name, e.message, where=name)
    probs.raise_if_any()
    return out


def warn_if_readable(path: Path, warn: Callable[[str], None]) -> None:
    """Warn when a file holding a token can be read by group or others."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        warn(
            "tspush: warning: %s holds a token and is readable by group/others: "
            "run chmod 600 %s" % (path, path)
        )


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


# -- the merged result ---------------------------------------------------------


@dataclass
class Settings:
    """Connection settings after precedence; ``None`` means "the profile decides"."""

    url: str | None = None
    token: str | None = None
    profile: str = profiles.DEFAULT_PROFILE
    auth: str | None = None
    user: str | None = None
    fingerprint: str | None = None
    insecure: bool = False
    ca_file: str | None = None
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    gzip: bool = False
    mode: str | None = None
    max_points: int | None = None
    max_bytes: int | None = None
    tags: dict[str, str] = field(default_factory=dict)
    config_path: Path | None = None
    origin: dict[str, str] = field(default_factory=dict)  # key -> where its value came from

    def make_profile(self) -> profiles.Profile:
        return profiles.get(self.profile).with_overrides(
            auth_scheme=self.auth,
            auth_user=self.user,
            mode=self.mode,
            max_points=self.max_points,
            max_bytes=self.max_bytes,
        )

    def make_transport(self, warn: Callable[[str], None] | None = None) -> Any:
        from tspush.host.transport import Transport

        if not self.url:
            raise _error(
                "no server URL: pass --url, set TSPUSH_URL, or set url in the [%s] table "
                "of %s" % (SECTION, self.config_path or FILE_NAME),
                "url",
                "",
            )
        prof = self.make_profile()
        return Transport(
            self.url,
            token=self.token,
            auth_scheme=prof.auth_scheme,
            auth_user=prof.auth_user,
            fingerprint=self.fingerprint,
            insecure=self.insecure,
            ca_file=self.ca_file,
            connect_timeout_s=self.connect_timeout_s,
            read_timeout_s=self.read_timeout_s,
            gzip=self.gzip,
            warn=warn,
        )


def _read_token_file(path: str, origin: str) -> str:
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise _error(
            "%s: token_file: cannot read %s: %s" % (origin, p, e.strerror or e),
            "token_file",
            origin,
        ) from e
    if not text:
        raise _error("%s: token_file: %s is empty" % (origin, p), "token_file", origin)
    return text.splitlines()[0].strip()


def resolve(
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    config: str | None = None,
    *,
    cwd: Path | None = None,
    warn: Callable[[str], None] | None = None,
) -> Settings:
    """Merge defaults < file < environment < flags (``None`` flags count as not given)."""
    warn = warn or _stderr
    environ = os.environ if environ is None else environ
    explicit = config or environ.get(ENV_PREFIX + "CONFIG") or None
    path = find_config(explicit, cwd)
    layers: list[tuple[str, dict[str, Any]]] = []
    if path is not None:
        file_layer = file_settings(load_toml(path), path)
        if file_layer.get("token"):
            warn_if_readable(path, warn)
        token_env = file_layer.pop("token_env", None)
        if token_env and environ.get(token_env) and not file_layer.get("token_file"):
            file_layer["token"] = environ[token_env]
        layers.append(("%s [%s]" % (path, SECTION), file_layer))
    layers.append(("environment", env_settings(environ)))
    flag_layer: dict[str, Any] = {}
    for k, v in (flags or {}).items():
        if v is None or (k == "tags" and not v):
            continue
        if k not in _OPTIONS:
            raise ValueError("resolve(): unknown flag key %r" % k)
        flag_layer[k] = v
    layers.append(("command line", flag_layer))

    s = Settings(config_path=path)
    names = {f.name for f in fields(Settings)}
    tags: dict[str, str] = {}
    for origin, layer in layers:
        token_here = layer.get("token")
        if token_here is None and layer.get("token_file"):
            token_here = _read_token_file(layer["token_file"], origin)
            warn_if_readable(Path(layer["token_file"]).expanduser(), warn)
        if token_here is not None:
            s.token = token_here or None
            s.origin["token"] = origin
        for key, value in layer.items():
            if key in ("token", "token_file"):
                continue
            if key == "tags":
                tags.update(value)
                continue
            if key in names:
                setattr(s, key, value)
                s.origin[key] = origin
    s.tags = tags
    return s
