"""``tspush push``: one point (the original board's request), or many from stdin.

Exit status 0 only when every point was accepted; otherwise the exit code of
the first error's class (bad input 2, token 3, TLS/pin 4, network 5, server
refused 6). Everything printed goes through ``auth.redact``: servers such as
vmauth echo the Authorization header back.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import click

from tspush.cli import EXIT_CODES
from tspush.core import auth
from tspush.core.errors import AuthError, PointError, Rejected, TspushError
from tspush.core.lines import number, parse_line
from tspush.core.point import LENIENT, STRICT, Point, point_from_dict
from tspush.core.prepare import Preparer
from tspush.host import config as cfg
from tspush.host import profiles
from tspush.host.push import Attempt, PushReport, push_points

RULE = "-" * 60
MAX_INPUT_ERRORS_SHOWN = 5
MAX_REFUSED_SHOWN = 10


def parse_timestamp(text: str | None) -> int | None:
    """``now`` -> current Unix seconds; digits -> as given (seconds or ms); None -> None."""
    if text is None:
        return None
    if text.strip().lower() == "now":
        return int(time.time())
    try:
        return int(text)
    except ValueError:
        raise PointError(
            "--timestamp %r: use 'now' or Unix seconds (10 digits) or milliseconds (13 digits)"
            % text,
            "timestamp-type",
        ) from None


def parse_tags(items: tuple[str, ...]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for item in items:
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise PointError(
                "-t %r: write tags as key=value, e.g. -t host=pi4" % item, "tag-format"
            )
        tags[k] = v
    return tags


def parse_input(
    text: str,
    mode: str,
    default_ts: int | None = None,
    prepare: Callable[[Point, int | None], Point] | None = None,
) -> tuple[list[Point], list[str]]:
    """Points from stdin text: a JSON array/object, or lines (put / metric value / JSON).

    Each point goes through ``prepare`` (a ``Preparer``: stamp, default tags,
    the profile's host tag, then the rules). Returns ``(points, problems)``;
    each problem names the line.
    """
    points: list[Point] = []
    problems: list[str] = []
    stripped = text.strip()
    if stripped[:1] in ("[", "{"):
        try:
            doc = json.loads(stripped)
        except ValueError:
            doc = None
        if doc is not None:
            _from_json(doc, mode, default_ts, "stdin", points, problems, prepare)
            return points, problems
    for lineno, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        where = "stdin line %d" % lineno
        if s[0] in "[{":
            try:
                doc = json.loads(s)
            except ValueError as e:
                problems.append("%s: not valid JSON (%s): %s" % (where, e, s[:80]))
                continue
            _from_json(doc, mode, default_ts, where, points, problems, prepare)
            continue
        try:
            p = parse_line(s, mode if default_ts is None else LENIENT)
        except PointError as e:
            problems.append("%s: %s" % (where, e))
            continue
        if p is None:
            continue
        try:
            p = (prepare or Preparer(mode).prepare)(p, default_ts)
        except PointError as e:
            problems.append("%s: %s" % (where, e))
            continue
        points.append(p)
    return points, problems


def _from_json(
    doc: Any,
    mode: str,
    default_ts: int | None,
    where: str,
    out: list[Point],
    problems: list[str],
    prepare: Callable[[Point, int | None], Point] | None = None,
) -> None:
    items = doc if isinstance(doc, list) else [doc]
    for i, item in enumerate(items):
        label = "%s item %d" % (where, i) if isinstance(doc, list) else where
        try:
            p = point_from_dict(item, LENIENT)
            p = (prepare or Preparer(mode).prepare)(p, default_ts)
        except PointError as e:
            problems.append("%s: %s" % (label, e))
            continue
        out.append(p)


class Printer:
    """Prints one line per request, or the original's serial-log view with ``-v``."""

    def __init__(self, secrets: list[str], verbose: bool) -> None:
        self.secrets = secrets
        self.verbose = verbose

    def clean(self, text: Any) -> str:
        return auth.redact(text, self.secrets)

    def __call__(self, a: Attempt) -> None:
        self.show(a)
        if isinstance(a.error, Rejected):
            self.show_refused(a, a.error)

    def show_refused(self, a: Attempt, e: Rejected) -> None:
        """Which points the server refused and why, one line each (stderr)."""
        for index, datapoint, reason in e.failed[:MAX_REFUSED_SHOWN]:
            if isinstance(index, int) and 0 <= index < len(a.points):
                what = a.points[index].describe()
            elif isinstance(datapoint, dict):
                what = self.clean(json.dumps(datapoint, sort_keys=True))
            else:
                what = "(the server did not say which point)"
            why = self.clean(reason)
            if why.startswith(what + ": "):  # the server already named the point
                why = why[len(what) + 2 :]
            click.echo("tspush: refused: %s: %s" % (what, why), err=True)
        if len(e.failed) > MAX_REFUSED_SHOWN:
            click.echo("tspush: ... and %d more" % (len(e.failed) - MAX_REFUSED_SHOWN), err=True)

    def show(self, a: Attempt) -> None:
        ms = a.elapsed_s * 1000.0
        n = len(a.points)
        points = "%d point%s" % (n, "" if n == 1 else "s")
        if self.verbose:
            click.echo(RULE)
            click.echo("POST %s" % self.clean(a.url))
            click.echo(self.clean(a.body))
            click.echo(RULE)
            if a.reply is not None:
                click.echo("http: %d" % a.reply.status)
                click.echo("response: %s" % self.clean(a.reply.body).rstrip("\r\n"))
            else:
                reason = getattr(a.error, "reason", "error")
                click.echo("http: - (no answer: %s)" % reason)
                click.echo("response: ")
            click.echo("(%s, %.0f ms)" % (points, ms))
            return
        if a.reply is not None:
            line = "HTTP %d  %s  %.0f ms" % (a.reply.status, points, ms)
        else:
            line = "no answer (%s)  %s  %.0f ms" % (getattr(a.error, "reason", "error"), points, ms)
        if a.error is not None:
            line += "  " + ("refused" if a.reply is not None else "not sent")
        click.echo(line)


def _summary(report: PushReport, total: int) -> str:
    parts = ["%d accepted" % report.accepted]
    if report.rejected:
        parts.append("%d refused" % report.rejected)
    if report.unsent:
        parts.append("%d not sent" % report.unsent)
    return "%d point%s in %d request%s: %s" % (
        total,
        "" if total == 1 else "s",
        report.requests,
        "" if report.requests == 1 else "s",
        ", ".join(parts),
    )


@click.command("push", epilog=EXIT_CODES)
@click.argument("metric")
@click.argument("value", required=False)
@click.option("-t", "--tag", "tags", multiple=True, metavar="KEY=VALUE", help="A tag (repeat).")
@click.option(
    "--timestamp",
    metavar="now|EPOCH",
    help="Stamp points without one (default: the server stamps; strict: now).",
)
@click.option("--url", help="Server, e.g. https://host/ (the profile adds /api/put).")
@click.option(
    "--token", help="Write token; other users see it in ps: use --token-file or TSPUSH_TOKEN."
)
@click.option("--token-file", type=click.Path(dir_okay=False), help="Read the token from a file.")
@click.option("--profile", type=click.Choice(sorted(profiles.PROFILES)), help="Engine preset.")
@click.option("--auth", "auth_scheme", type=click.Choice(list(auth.SCHEMES)), help="Auth scheme.")
@click.option("--user", help="Basic auth user name (default DESC, as the original).")
@click.option("--fingerprint", metavar="HEX", help="Pin the server certificate (SHA-1/SHA-256).")
@click.option("--ca-file", type=click.Path(dir_okay=False), help="Trust this CA (PEM).")
@click.option("--insecure", is_flag=True, default=None, help="Do not check the certificate.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help=cfg.CONFIG_HELP)
@click.option("--strict/--lenient", "strict", default=None, help="OpenTSDB rules or lenient.")
@click.option("--gzip/--no-gzip", "gzip", default=None, help="Compress request bodies.")
@click.option(
    "--max-points", type=click.IntRange(min=1), help="Points per request (profile default 50)."
)
@click.option(
    "--max-bytes",
    type=click.IntRange(min=cfg.MIN_BYTES),
    help="Bytes per request body (default 8192).",
)
@click.option("--skip-bad", is_flag=True, help="stdin: send the good points, skip bad lines.")
@click.option("-v", "--verbose", is_flag=True, help="Show each request like the original.")
def command(
    metric: str,
    value: str | None,
    tags: tuple[str, ...],
    timestamp: str | None,
    url: str | None,
    token: str | None,
    token_file: str | None,
    profile: str | None,
    auth_scheme: str | None,
    user: str | None,
    fingerprint: str | None,
    ca_file: str | None,
    insecure: bool | None,
    config_file: str | None,
    strict: bool | None,
    gzip: bool | None,
    max_points: int | None,
    max_bytes: int | None,
    skip_bad: bool,
    verbose: bool,
) -> None:
    """Send METRIC VALUE, or many points from stdin with METRIC '-'.

    stdin takes OpenTSDB telnet lines (put METRIC TS VALUE k=v ...),
    'METRIC VALUE [k=v ...]' lines, JSON objects (one per line) or a JSON
    array. Prints one line per request; exit status 0 only when every point
    was accepted.
    """
    flags = {
        "url": url,
        "token": token,
        "token_file": token_file,
        "profile": profile,
        "auth": auth_scheme,
        "user": user,
        "fingerprint": fingerprint,
        "insecure": True if insecure else None,
        "ca_file": ca_file,
        "gzip": gzip,
        "mode": None if strict is None else (STRICT if strict else LENIENT),
        "max_points": max_points,
        "max_bytes": max_bytes,
    }
    settings = cfg.resolve(flags, os.environ, config_file)
    prof = settings.make_profile()
    mode = prof.mode
    ts = parse_timestamp(timestamp)
    if ts is None and mode == STRICT:
        ts = int(time.time())  # OpenTSDB needs a timestamp; stamp points now
    if ts is None and prof.stamp_missing:  # e.g. opentsdb: a timestamp is always sent
        ts = int(time.time())
    point_tags = parse_tags(tags)
    defaults = dict(settings.tags)
    defaults.update(point_tags)
    # -t / config tags, then e.g. opentsdb's host tag, then the profile's rules
    prep = profiles.preparer(prof, defaults)
    if metric == "-":
        if value is not None:
            raise PointError("'tspush push -' reads points from stdin: give no VALUE", "usage")
        points, problems = parse_input(sys.stdin.read(), mode, ts, prep.prepare)
        if problems:
            for msg in problems[:MAX_INPUT_ERRORS_SHOWN]:
                click.echo("tspush: bad input: %s" % msg, err=True)
            if len(problems) > MAX_INPUT_ERRORS_SHOWN:
                click.echo(
                    "tspush: ... and %d more bad input lines"
                    % (len(problems) - MAX_INPUT_ERRORS_SHOWN),
                    err=True,
                )
            if not skip_bad:
                click.echo(
                    "tspush: error: %d bad input item(s), nothing sent: fix them or pass "
                    "--skip-bad" % len(problems),
                    err=True,
                )
                raise SystemExit(PointError.exit_code)
        if not points:
            if problems:
                raise SystemExit(PointError.exit_code)
            raise PointError("stdin held no points: give lines like 'METRIC VALUE'", "empty")
    else:
        if value is None:
            raise click.UsageError("give METRIC VALUE, or '-' to read points from stdin")
        points = [prep.prepare(Point(metric, number(value), ts, point_tags), ts)]
        problems = []
    transport = settings.make_transport()
    if transport.token and transport.auth_scheme == auth.NONE:
        click.echo(
            "tspush: warning: the token is not sent: profile %s uses no auth; add --auth "
            "basic (or bearer) if the server wants one" % prof.name,
            err=True,
        )
    printer = Printer(transport.secrets, verbose)
    try:
        report = push_points(transport, prof, points, on_request=printer)
    finally:
        transport.close()
    if report.requests > 1 or report.unsent or len(points) > 1:
        click.echo(_summary(report, len(points)))
    for e in report.errors:
        click.echo("tspush: error: %s" % printer.clean(str(e)), err=True)
    if not transport.auth_header() and any(isinstance(e, AuthError) for e in report.errors):
        if transport.token:
            how = "profile %s uses no auth: add --auth basic (or bearer)" % prof.name
        else:
            how = "give it with --token-file FILE, --token, TSPUSH_TOKEN or token in tspush.toml"
        click.echo("tspush: no token was sent: %s" % how, err=True)
    if report.errors:
        raise SystemExit(_exit_code(report.errors[0]))
    if problems:
        raise SystemExit(PointError.exit_code)


def _exit_code(e: TspushError) -> int:
    return int(getattr(e, "exit_code", 1) or 1)
