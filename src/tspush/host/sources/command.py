"""Run a program every interval and read points from what it prints.

Formats: ``put`` lines (OpenTSDB telnet), ``metric value [k=v]`` lines, or
JSON (one OpenTSDB object or a list of them); ``auto`` looks at the first
character. A program that fails, hangs or prints nothing usable raises a
TspushError naming the command, so the agent reports it and retries.
"""

from __future__ import annotations

import json
import shlex
import subprocess

from tspush.core.errors import PointError, TspushError
from tspush.core.lines import parse_line
from tspush.core.point import Point, point_from_dict
from tspush.host.options import Option
from tspush.host.sources.base import Source

FORMATS = ("auto", "lines", "json")


def parse_output(text: str, fmt: str, now_s: int) -> list[Point]:
    """Points from a program's output; PointError names the offending line."""
    s = text.strip()
    if not s:
        return []
    if fmt == "json" or (fmt == "auto" and s[0] in "[{"):
        try:
            doc = json.loads(s)
        except ValueError as e:
            raise PointError(f"output is not valid JSON: {e}", "json") from None
        items = doc if isinstance(doc, list) else [doc]
        out = []
        for d in items:
            if not isinstance(d, dict):
                raise PointError(f"JSON item {d!r} is not an object", "json")
            out.append(point_from_dict(d, now_s=now_s))
        return out
    points = []
    for line in s.splitlines():
        p = parse_line(line, now_s=now_s)
        if p is not None:
            points.append(p)
    return points


class CommandSource(Source):
    kind = "command"
    about = (
        "runs a program each interval; its output as `put` lines, "
        "`metric value k=v` lines, or JSON (one OpenTSDB object or a list)"
    )
    OPTIONS = (
        Option(
            "command",
            "command",
            None,
            'a command line, or a list: ["prog", "arg"]',
            required=True,
            example="sensors-to-put",
        ),
        Option("format", FORMATS, "auto", "auto, lines (put or `metric value k=v`), json"),
        Option("timeout_s", "pos", 10.0, "a run that takes longer is stopped and reported"),
    )

    def __init__(
        self,
        command: str | list[str],
        format: str = "auto",
        timeout_s: float = 10.0,
        name: str | None = None,
        interval_s: float = 10.0,
        tags: dict[str, str] | None = None,
    ) -> None:
        super().__init__(name, interval_s, tags)
        self.argv = shlex.split(command) if isinstance(command, str) else list(command)
        if not self.argv:
            raise ValueError("command is empty: give the program to run")
        if format not in FORMATS:
            raise ValueError(f"format {format!r}: use one of {', '.join(FORMATS)}")
        self.format = format
        self.timeout_s = timeout_s

    def sample(self, now_s: int) -> list[Point]:
        cmd = " ".join(shlex.quote(a) for a in self.argv)
        try:
            r = subprocess.run(
                self.argv, capture_output=True, text=True, timeout=self.timeout_s, check=False
            )
        except FileNotFoundError:
            raise TspushError(
                f"source {self.name}: {self.argv[0]!r} not found: check the path"
            ) from None
        except subprocess.TimeoutExpired:
            raise TspushError(
                f"source {self.name}: {cmd!r} ran over {self.timeout_s}s: raise timeout_s"
            ) from None
        except OSError as e:
            raise TspushError(f"source {self.name}: cannot run {cmd!r}: {e}", e) from None
        if r.returncode != 0:
            err = (r.stderr or "").strip().splitlines()[-1:]
            said = ": " + err[0][:200] if err else " (it printed no error)"
            raise TspushError(f"source {self.name}: {cmd!r} exited with {r.returncode}{said}")
        try:
            return parse_output(r.stdout, self.format, now_s)
        except PointError as e:
            raise TspushError(f"source {self.name}: {cmd!r}: {e}", e) from None
