"""Small builders shared by the agent tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tspush.core.retry import Retry
from tspush.core.spoolfix import HEADER, SEG_SUFFIX, scan
from tspush.host import config as hconfig
from tspush.host.agent_config import OutputConfig


def output_config(
    url: str,
    *,
    name: str = "out",
    profile: str = "victoriametrics",
    token: str | None = None,
    ca_file: str | None = None,
    details: bool | None = None,
    flush_interval_s: float = 0.2,
    retry: Retry | None = None,
) -> OutputConfig:
    s = hconfig.Settings(url=url, token=token, profile=profile, ca_file=ca_file)
    return OutputConfig(
        name=name,
        settings=s,
        flush_interval_s=flush_interval_s,
        flush_jitter_s=0.0,
        retry=retry or Retry(backoff_s=0.05, factor=2, cap_s=0.5, jitter=0, auth_backoff_s=0.3),
        details=details,
    )


class Lines:
    """A log function that keeps (level, message, fields)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def __call__(self, level: str, msg: str, **fields: Any) -> None:
        self.lines.append((level, msg, fields))

    def text(self) -> str:
        return "\n".join("%s %s %s" % (lv, m, f) for lv, m, f in self.lines)


def spooled_records(spool_dir: Path) -> list[dict[str, Any]]:
    """Every valid record in the segment files, read without opening a Spool."""
    out = []
    for seg in sorted(spool_dir.glob("*" + SEG_SUFFIX)):
        buf = seg.read_bytes()
        for start, end, _ in scan(buf):
            for line in buf[start + HEADER : end].split(b"\n"):
                out.append(json.loads(line))
    return out
