"""The agent's state file: written atomically by ``tspush run``, read by ``tspush status``.

A small JSON document, so ``status`` never has to open the spool (which the
running agent owns) and works the same whether the agent is up or not.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from tspush.core.errors import ConfigError


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Replace the state file in one step (temp file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    data = json.dumps(state, indent=1, sort_keys=True).encode()
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_state(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(
            "%s: no agent state yet: start the agent with 'tspush run' (same --config)" % path,
            "state_file",
        ) from None
    except (OSError, ValueError) as e:
        raise ConfigError("%s: cannot read the agent state: %s" % (path, e), "state_file") from e
    if not isinstance(doc, dict):
        raise ConfigError("%s: not an agent state file" % path, "state_file")
    return doc


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _age(now_s: float, then: Any) -> str:
    if not isinstance(then, (int, float)) or isinstance(then, bool) or then <= 0:
        return "never"
    d = max(0, int(now_s - then))
    if d < 120:
        return "%ds ago" % d
    if d < 7200:
        return "%dm ago" % (d // 60)
    if d < 172800:
        return "%dh ago" % (d // 3600)
    return "%dd ago" % (d // 86400)


def format_status(state: dict[str, Any], now_s: float | None = None) -> str:
    """Human summary: agent liveness, then one block per output and per source."""
    now_s = time.time() if now_s is None else now_s
    pid = state.get("pid")
    alive = isinstance(pid, int) and pid_alive(pid) and not state.get("stopped")
    lines = [
        "agent: %s (pid %s), state written %s"
        % ("running" if alive else "not running", pid, _age(now_s, state.get("updated_s"))),
        "spool: %s, %s point(s) stored"
        % (state.get("spool_dir", "?"), state.get("spool_points", "?")),
    ]
    if state.get("not_stored_points"):  # disk full: these points are gone
        lines.append(
            "  NOT STORED: %s point(s) could not be written to the spool; last %s: %s"
            % (
                state["not_stored_points"],
                _age(now_s, state.get("last_spool_error_s")),
                state.get("last_spool_error"),
            )
        )
    if state.get("corrupt_bytes"):
        lines.append(
            "  damage found at start: %s corrupt record(s), %s byte(s) skipped (see the log)"
            % (state.get("corrupt_records", "?"), state["corrupt_bytes"])
        )
    for name, o in sorted((state.get("outputs") or {}).items()):
        oldest = o.get("oldest_s")
        lines.append("output %s -> %s (profile %s)" % (name, o.get("url"), o.get("profile")))
        waiting = (  # 'pending 0 point(s), oldest never' read like an error
            "pending %s point(s), oldest %s" % (o.get("pending"), _age(now_s, oldest))
            if o.get("pending")
            else "nothing pending"
        )
        lines.append(
            "  %s; sent %s in %s request(s)" % (waiting, o.get("sent_points"), o.get("requests"))
        )
        lines.append(
            "  last success %s; retries %s; dropped %s; dead letters %s"
            % (
                _age(now_s, o.get("last_success_s")),
                o.get("retries"),
                o.get("dropped"),
                o.get("dead_letters"),
            )
        )
        if o.get("auth_failed"):
            lines.append("  THE TOKEN IS REJECTED: fix the token; the agent retries by itself")
        if o.get("last_error"):
            lines.append(
                "  last error %s: %s" % (_age(now_s, o.get("last_error_s")), o.get("last_error"))
            )
    for name, s in sorted((state.get("sources") or {}).items()):
        line = "source %s: %s point(s), last read %s" % (
            name,
            s.get("points"),
            _age(now_s, s.get("last_ok_s")),
        )
        if s.get("not_stored"):
            line += "; %s NOT STORED (spool full)" % s["not_stored"]
        if s.get("last_error"):
            line += "; last error %s: %s" % (_age(now_s, s.get("last_error_s")), s["last_error"])
        lines.append(line)
    return "\n".join(lines)
