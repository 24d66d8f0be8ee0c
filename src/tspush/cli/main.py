"""Entry point: a click group whose subcommands load only when used.

Each subcommand lives in its own module under ``tspush.cli`` and exposes a
``command`` object; loading lazily keeps ``tspush push`` quick to start and
lets one command's heavy imports (the receiver, esptool) stay out of others.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any

import click

from tspush import __version__
from tspush.cli import EXIT_CODES
from tspush.core.errors import TspushError

COMMANDS: dict[str, str] = {
    "push": "tspush.cli.push",
    "fingerprint": "tspush.cli.fingerprint",
    "serve": "tspush.cli.serve",
    "demo": "tspush.cli.demo",
    "run": "tspush.cli.run",
    "status": "tspush.cli.status",
    "deploy": "tspush.cli.deploy",
    "monitor": "tspush.cli.monitor",
    "flash": "tspush.cli.flash",
}

# One line each for `tspush --help`, whole (click cuts docstrings at 45 characters),
# and listed without importing every command.
SUMMARIES: dict[str, str] = {
    "demo": "Receiver, dashboard and a sampler on this computer, no account.",
    "deploy": "Install the board app and its config.json on a board.",
    "fingerprint": "Print a server certificate's fingerprints, for pinning.",
    "flash": "Erase an ESP board and write the MicroPython firmware it needs.",
    "monitor": "Follow the board's serial log with timestamps (Ctrl-C stops).",
    "push": "Send one point (METRIC VALUE), or many from stdin (METRIC -).",
    "run": "Sample sources, spool every point on disk, send to each output.",
    "serve": "Receive OpenTSDB /api/put, store, answer queries, dashboard.",
    "status": "Each output of a running agent: backlog, last error, drops.",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(n for n, mod in COMMANDS.items() if importlib.util.find_spec(mod))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        mod = COMMANDS.get(cmd_name)
        if mod is None or importlib.util.find_spec(mod) is None:
            return None
        return importlib.import_module(mod).command  # type: ignore[no-any-return]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(n, SUMMARIES.get(n, "")) for n in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


EPILOG = EXIT_CODES


@click.group(cls=LazyGroup, invoke_without_command=True, epilog=EPILOG)
@click.version_option(__version__, prog_name="tspush")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """tspush: push sensor readings to a time-series database, and keep them."""
    if ctx.invoked_subcommand is None:  # plain `tspush`: the help, not a usage error
        click.echo(ctx.get_help())


def main(argv: list[str] | None = None) -> Any:
    try:
        rv = cli.main(args=argv, prog_name="tspush", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(2)
    except TspushError as e:
        click.echo("tspush: error: %s" % e, err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    if isinstance(rv, int) and rv:
        sys.exit(rv)
    return rv


if __name__ == "__main__":
    main()
