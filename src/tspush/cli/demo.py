"""``tspush demo``: the whole path on one computer, one command, nothing to configure.

Starts the receiver on loopback (port 4242, or any free port), then pushes
like the original board did (``universe`` = 42 every 10 s, here with a few
live readings of this computer) through an ``Agent`` as ``tspush run`` does
(spool, output thread), printing each request as the board printed it on its
serial console. The
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


def sampler(url: str, write_token: str, interval_s: float, spool_dir: Path) -> Any:
    """The demo's sampler: an ``Agent`` (spool, lock, output thread) with one source.

    Points without a timestamp go without one (``stamp=False``), each body
    without ``?details``: the receiver stamps ``universe`` on arrival and
    answers a bare 204, as the original board saw it.
    """
    from tspush.core.point import Point
    from tspush.host.agent import Agent, Logger
    from tspush.host.agent_config import AgentConfig, OutputConfig, SpoolConfig
    from tspush.host.config import Settings
    from tspush.host.sources.base import Source
    from tspush.host.sources.system import SystemSource
    from tspush.host.transport import Reply, Transport

    class Readings(Source):
        """The original's constant, then this computer's CPU, load and memory."""

        kind = "demo"
        KEEP = ("sys.cpu.percent", "sys.load.1m", "sys.mem.used_percent")

        def __init__(self) -> None:
            super().__init__("demo", interval_s)
            self.system = SystemSource(
                interval_s=interval_s, tags={"host": host_tag()}, disks=[], temperatures=False
            )

        def read(self, now_s: int) -> list[Point]:
            pts = [Point("universe", 42)]  # as the original: no timestamp, no tags
            return pts + [p for p in self.system.read(now_s) if p.metric in self.KEEP]

    class Shown(Transport):
        """Each request printed as the board printed it on its serial console."""

        def post(self, path: str, body: bytes, *args: Any, **kw: Any) -> Reply:
            echo(RULE)
            echo("POST %s" % self.display_url(path))
            echo(body.decode("utf-8", "replace"))
            echo(RULE)
            try:
                reply = super().post(path, body, *args, **kw)
            except Exception as e:
                echo("error: %s" % e)
                raise
            echo("http: %d" % reply.status)
            echo("response: %s" % reply.body.decode("utf-8", "replace"))
            return reply

    out = OutputConfig(
        name="demo",
        settings=Settings(url=url, token=write_token, profile="tspush", read_timeout_s=10.0),
        flush_interval_s=min(0.5, interval_s),
        flush_jitter_s=0.0,
        details=False,
    )
    cfg = AgentConfig(
        path=None,
        spool=SpoolConfig(dir=spool_dir),
        sources=[],
        outputs=[out],
        interval_s=interval_s,
        self_metrics_interval_s=0,
        summary_interval_s=0,  # the requests themselves are shown
        state_file=spool_dir / "state.json",
        shutdown_flush_s=2.0,
    )
    shown = Shown(url, token=write_token, read_timeout_s=10.0)
    log = Logger(stream=sys.stderr, level="warning", secrets=cfg.secrets())
    return Agent(cfg, log=log, sources=[Readings()], stamp=False, transports={"demo": shown})


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
    agent: Any = None
    spool_dir = Path(tempfile.mkdtemp(prefix="tspush-demo-spool-"))
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
        agent = sampler(url, write_token, interval_s, spool_dir)
        agent.start()
        if not no_browser and not stop.is_set():
            _open_browser(dashboard)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass  # a Ctrl-C before our handler was in place
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        pushed = 0
        if agent is not None:
            agent.stop()
            pushed = agent.outputs[0].state()["sent_points"]
        if server is not None:
            server.stop()
        shutil.rmtree(spool_dir, ignore_errors=True)
        echo("tspush demo: stopped (%d points pushed)" % pushed)


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
