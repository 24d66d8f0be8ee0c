"""``tspush demo``: the whole path on one computer, one command, nothing to configure.

Starts the receiver on loopback (port 4242, or any free port), then pushes
like the original board did (``universe`` = 42 every 10 s, here with a few
live readings of this computer) through the same code as ``tspush push``,
printing the same lines the board printed on its serial console. The
dashboard needs no token (reads are open on this loopback-only receiver), so
a click opens the chart; writes need the demo's own token, never printed.
"""

from __future__ import annotations

import secrets
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any

import click

from tspush import __version__

RULE = "-" * 40


def echo(text: str = "") -> None:
    click.echo(text)
    sys.stdout.flush()


def host_tag() -> str:
    from tspush.host.sources.base import clean_tag

    return clean_tag(socket.gethostname().split(".")[0] or "localhost")


class Sampler:
    """Reads the original's constant and a few host readings; pushes them every interval."""

    def __init__(self, url: str, write_token: str, interval_s: float) -> None:
        from tspush.host import profiles
        from tspush.host.sources.system import SystemSource
        from tspush.host.transport import Transport

        self.interval_s = interval_s
        # No ?details: the answer is a bare 204, as the original board saw it.
        self.profile = replace(profiles.get("tspush"), supports_details=False)
        self.transport = Transport(url, token=write_token, read_timeout_s=10.0)
        self.system = SystemSource(
            interval_s=interval_s, tags={"host": host_tag()}, disks=[], temperatures=False
        )
        self.pushed = 0

    def points(self) -> list[Any]:
        from tspush.core.point import Point

        now_s = int(time.time())
        keep = ("sys.cpu.percent", "sys.load.1m", "sys.mem.used_percent")
        # As the original: no timestamp, no tags; the receiver stamps it on arrival.
        pts: list[Any] = [Point("universe", 42)]
        pts += [p for p in self.system.read(now_s) if p.metric in keep]
        return pts

    def once(self) -> None:
        from tspush.host.push import Attempt, push_points

        def show(a: Attempt) -> None:
            echo(RULE)
            echo("POST %s" % a.url)
            echo(a.body.decode("utf-8", "replace"))
            echo(RULE)
            if a.reply is not None:
                echo("http: %d" % a.reply.status)
                echo("response: %s" % a.reply.body.decode("utf-8", "replace"))
            elif a.error is not None:
                echo("error: %s" % a.error)

        report = push_points(self.transport, self.profile, self.points(), on_request=show)
        self.pushed += report.accepted
        for e in report.errors:
            if report.requests == 0:
                echo("error: %s" % e)

    def run(self, stop: threading.Event) -> None:
        """Push now, then every interval, until ``stop`` is set."""
        next_s = time.monotonic()
        while not stop.is_set():
            self.once()
            next_s += self.interval_s
            stop.wait(max(0.0, next_s - time.monotonic()))

    def close(self) -> None:
        self.transport.close()


@click.command("demo")
@click.option(
    "--interval", type=float, default=10.0, show_default=True, help="Seconds between pushes."
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=4242,
    show_default=True,
    help="Port to try first; any free port if it is taken.",
)
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Keep the data in this SQLite file [default: a temporary one].",
)
@click.option("--no-browser", is_flag=True, help="Do not open the dashboard in a browser.")
def command(interval: float, port: int, db: Path | None, no_browser: bool) -> None:
    """Run a receiver and a sampler on this computer, and show the data live."""
    from tspush.core.errors import ConfigError

    if interval <= 0:
        raise ConfigError("must be above 0 seconds, e.g. --interval 10", "--interval")
    tmp_dir = None
    if db is None:
        tmp_dir = Path(tempfile.mkdtemp(prefix="tspush-demo-"))
        db = tmp_dir / "demo.sqlite"
    try:
        run_demo(interval, port, db, no_browser, temporary=tmp_dir is not None)
    finally:
        if tmp_dir is not None:
            shutil.rmtree(tmp_dir, ignore_errors=True)


def run_demo(interval_s: float, port: int, db: Path, no_browser: bool, temporary: bool) -> None:
    from tspush.receiver.app import create_app
    from tspush.receiver.server import Server, free_or, url_of

    # Ctrl-C and SIGTERM only set a flag, from the first moment: whenever they
    # come, the loop below ends and everything is stopped in order.
    stop = threading.Event()

    def on_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    old = {sig: signal.signal(sig, on_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    server: Server | None = None
    sampler: Sampler | None = None
    try:
        # The write token is made here and never shown. Reads are open: the
        # receiver listens on loopback only, and a token in the printed link
        # would be a token in the output.
        write_token = secrets.token_urlsafe(18)
        app = create_app(db_path=db, write_token=write_token, open_read=True)
        sock = free_or("127.0.0.1", port)
        url = url_of(sock, False)
        server = Server(app, sock)
        server.start_thread()
        dashboard = "%s/#m=universe" % url
        echo("tspush demo %s" % __version__)
        echo("  receiver: %s (OpenTSDB /api/put and /api/query)" % url)
        echo(
            "  database: %s%s" % (db, " (deleted on exit; --db FILE keeps it)" if temporary else "")
        )
        echo(
            "  pushing universe = 42 and this computer's CPU, load and memory every %g s"
            % interval_s
        )
        echo("  dashboard: %s" % dashboard)
        echo("  Ctrl-C to stop")
        sampler = Sampler(url, write_token, interval_s)
        if not no_browser and not stop.is_set():
            _open_browser(dashboard)
        sampler.run(stop)
    except KeyboardInterrupt:
        pass  # a Ctrl-C before our handler was in place
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        if sampler is not None:
            sampler.close()
        if server is not None:
            server.stop()
        echo("tspush demo: stopped (%d points pushed)" % (sampler.pushed if sampler else 0))


def _open_browser(url: str) -> None:
    import os
    import webbrowser

    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        # No desktop: webbrowser would start a text browser in this terminal.
        echo("  (no desktop session: open the dashboard link above in a browser)")
        return
    try:
        if not webbrowser.open(url, new=2):
            echo("  (no browser found: open the dashboard link above yourself)")
    except Exception as e:  # noqa: BLE001 - a missing browser must not stop the demo
        echo("  (could not open a browser: %s)" % e)
