"""Agent config: the sample documents every key, bad files list every problem at once."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import tspush
from tspush.core.errors import ConfigError
from tspush.host import agent_config

SAMPLE = Path(tspush.__file__).parent / "sample-config.toml"
MARKER = "AGENT SECTIONS BELOW"
TSPUSH = [sys.executable, "-m", "tspush.cli.main"]


def _agent_part() -> str:
    text = SAMPLE.read_text()
    assert MARKER in text
    return text[text.index(MARKER) :]


def _uncommented_sample(tmp_path: Path) -> Path:
    out = []
    seen_marker = False
    for line in SAMPLE.read_text().splitlines():
        seen_marker = seen_marker or MARKER in line
        m = re.match(r"^# (\[\[?\w+\]\]?|\w+ = .*)$", line)
        if m and seen_marker:
            line = m.group(1)
        out.append(line)
    p = tmp_path / "all.toml"
    text = "\n".join(out).replace('dir = ""', 'dir = "%s"' % (tmp_path / "spool"))
    p.write_text(text)
    return p


def test_sample_documents_every_agent_key_and_loads_uncommented(tmp_path: Path) -> None:
    part = _agent_part()
    keys = (
        list(agent_config.AGENT_KEYS)
        + list(agent_config.SPOOL_KEYS)
        + list(agent_config.OUTPUT_AGENT_KEYS)
        + [k for spec in agent_config.SOURCE_KEYS.values() for k in spec]
        + list(agent_config.COMMON_SOURCE_KEYS)
    )
    for key in keys:
        assert re.search(r"^#? ?%s = " % key, part, re.M) or ("%s (" % key) in part, key
    for kind in agent_config.SOURCE_KEYS:
        assert 'type = "%s"' % kind in part
    cfg = agent_config.load(_uncommented_sample(tmp_path), environ={"TSPUSH_TOKEN": "t0k"})
    assert [s.kind for s in cfg.sources] == [
        "constant",
        "system",
        "command",
        "file",
        "stdin",
        "http_listener",
    ]
    assert [o.name for o in cfg.outputs] == ["default"]
    out = cfg.outputs[0]
    assert out.settings.token == "t0k" and out.flush_interval_s == 10.0
    assert out.retry.cap_s == 300.0 and out.details is True
    assert cfg.spool.max_bytes == 1 << 30 and cfg.spool.max_age_s == 604800
    assert cfg.tags == {"site": "home"}


def test_every_problem_is_listed_with_file_and_key(tmp_path: Path) -> None:
    p = tmp_path / "bad.toml"
    p.write_text(
        """
[agent]
interval_s = -1
colour = "blue"

[spool]
max_bytes = 1000
segment_bytes = 800

[[sources]]
type = "file"
metric = "t"

[[sources]]
type = "sql"

[[outputs]]
url = "https://example.net"
profile = "nope"

[[outputs]]
name = "b c"
url = "https://example.org"
token_env = "NOT_SET_ANYWHERE"
flush_interval_s = "soon"
"""
    )
    with pytest.raises(ConfigError) as ei:
        agent_config.load(p, environ={})
    lines = str(ei.value).splitlines()
    text = str(ei.value)
    for expected in (
        "agent.interval_s: must be above 0",
        "agent.colour: unknown key",
        "spool.max_bytes: 1000 must be at least twice spool.segment_bytes",
        "sources[0].path: missing",
        "sources[1].type: 'sql': use one of",
        "profile: unknown profile 'nope'",
        "outputs[1].name: 'b c'",
        "outputs[1].token_env: the variable NOT_SET_ANYWHERE is not set",
        "outputs[1].flush_interval_s: expected a number",
    ):
        assert expected in text, expected
    assert len(lines) == 9
    assert all(str(p) in line for line in lines)


def test_without_outputs_the_output_table_and_env_are_used(tmp_path: Path) -> None:
    p = tmp_path / "push.toml"
    p.write_text('[output]\nurl = "http://127.0.0.1:1"\nprofile = "victoriametrics"\n')
    cfg = agent_config.load(p, environ={"TSPUSH_TOKEN": "from-env"})
    assert [o.name for o in cfg.outputs] == ["default"]
    assert cfg.outputs[0].settings.token == "from-env"
    empty = tmp_path / "empty.toml"
    empty.write_text("[agent]\n")
    with pytest.raises(ConfigError, match="no output"):
        agent_config.load(empty, environ={})


def test_run_check_cli(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(
        f"""
[spool]
dir = "{tmp_path / "spool"}"
[[sources]]
type = "system"
interval_s = 30
[[outputs]]
url = "https://metrics.example.net"
token = "very-secret-token"
"""
    )
    r = subprocess.run(
        [*TSPUSH, "run", "--config", str(good), "--check"], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    assert "config OK" in r.stdout and "source system: system every 30.0s" in r.stdout
    assert "very-secret-token" not in r.stdout + r.stderr
    assert not (tmp_path / "spool").exists()  # --check starts nothing
    bad = tmp_path / "bad.toml"
    bad.write_text("[[outputs]]\nurl = 5\n[[sources]]\ntype = 'nope'\n")
    r = subprocess.run(
        [*TSPUSH, "run", "--config", str(bad), "--check"], capture_output=True, text=True
    )
    assert r.returncode == 2
    err = r.stderr.strip().splitlines()
    assert err[0].startswith("tspush: error: ") and len(err) == 2
    assert "sources[0].type" in r.stderr and "url" in r.stderr


def test_docs_and_sample_are_made_from_the_declarations() -> None:
    """docs/agent.md's key tables and the sample's [[sources]] equal what the Options render."""
    from tspush.host.options import section

    root = Path(__file__).resolve().parents[2]
    parts = agent_config.generated()
    assert set(parts) == {"docs/agent.md", "src/tspush/sample-config.toml"}
    for rel, named in parts.items():
        text = (root / rel).read_text()
        for name, body in named.items():
            start, end = section(text, name, agent_config.comment_of(rel))
            assert text[start:end] == body, "%s: run python tools/config_docs.py" % rel
    # every declared key of every source is in the docs table, with its default
    docs = parts["docs/agent.md"]["sources"]
    for kind, keys in agent_config.SOURCE_KEYS.items():
        for key in keys:
            assert "| `%s` | `%s` |" % (kind, key) in docs, (kind, key)
    assert '| `system` | `disks` | list of strings | `["/"]` |' in docs


def test_three_wrong_keys_are_three_lines_each_with_its_fix(tmp_path: Path) -> None:
    p = tmp_path / "three.toml"
    p.write_text(
        """
[[sources]]
type = "system"
temperatures = "yes"
disk = ["/"]

[[outputs]]
url = "https://example.net"
max_points = 0
"""
    )
    with pytest.raises(ConfigError) as ei:
        agent_config.load(p, environ={})
    lines = str(ei.value).splitlines()
    assert lines == [
        "%s: sources[0].disk: unknown key: did you mean 'disks'?" % p,
        "%s: sources[0].temperatures: expected true or false, got 'yes' (string)" % p,
        "%s: outputs[0].max_points: must be above 0, got 0" % p,
    ]


def test_output_table_reports_every_problem_at_once(tmp_path: Path) -> None:
    """``tspush push``'s [output] table goes through the same engine: all its problems at once."""
    from tspush.host import config

    p = tmp_path / "push.toml"
    p.write_text('[output]\nurl = 1\ngzip = "no"\ntokn = "x"\n')
    with pytest.raises(ConfigError) as ei:
        config.resolve({}, {}, str(p))
    assert str(ei.value).splitlines() == [
        "unknown key 'tokn' in [output] of %s: did you mean 'token'?" % p,
        "[output] of %s: url: expected a string, got 1 (integer)" % p,
        "[output] of %s: gzip: expected true or false, got 'no' (string)" % p,
    ]


def test_each_source_takes_the_keys_it_declares_with_the_same_defaults() -> None:
    """A key declared but not taken (or taken with another default) would be a second truth."""
    import inspect

    from tspush.host import sources

    for kind, cls in sources.KINDS.items():
        params = inspect.signature(cls.__init__).parameters
        for opt in sources.options(kind):
            if opt.name in ("type", "token_file", "token_env"):  # read by the config engine
                continue
            assert opt.name in params, (kind, opt.name)
            default = params[opt.name].default
            if opt.name in ("name", "interval_s", "tags") or opt.required:
                continue  # filled in by the config engine ([agent] interval_s, the type)
            if default is None:  # e.g. disks=None standing for ["/"]
                continue
            assert default == opt.default, (kind, opt.name, default, opt.default)


def test_run_sample_and_check_show_the_declared_keys(tmp_path: Path) -> None:
    r = subprocess.run([*TSPUSH, "run", "--sample"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout == SAMPLE.read_text()
    cfg = tmp_path / "t.toml"
    cfg.write_text(
        f"""
[spool]
dir = "{tmp_path / "spool"}"
[[sources]]
type = "http_listener"
listen = "127.0.0.1:4343"
token = "device-secret-9f8e"
[[outputs]]
url = "https://metrics.example.net"
"""
    )
    r = subprocess.run(
        [*TSPUSH, "run", "--config", str(cfg), "--check"], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    said = 'source http_listener: http_listener every 10.0s (listen = "127.0.0.1:4343", '
    assert said in r.stdout
    assert "token = ***" in r.stdout and "device-secret-9f8e" not in r.stdout + r.stderr


def test_config_records_default_as_their_declarations_say() -> None:
    """The dataclasses the engine fills keep the declared defaults (one truth, checked)."""
    import dataclasses

    from tspush.host import config

    pairs = [
        (config.Settings, config.CONNECTION_OPTIONS),
        (agent_config.AgentConfig, agent_config.AGENT_OPTIONS),
        (agent_config.SpoolConfig, agent_config.SPOOL_OPTIONS),
        (agent_config.OutputConfig, agent_config.OUTPUT_OPTIONS),
    ]
    for cls, options in pairs:
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for opt in options:
            f = fields.get(opt.name)
            if f is None or f.default is dataclasses.MISSING or f.type == "Path":
                continue  # a factory ({} / Retry), or a path made from the string
            if opt.default in ("", None) and f.default in ("", None):
                continue
            assert f.default == opt.default, (cls.__name__, opt.name, f.default, opt.default)
