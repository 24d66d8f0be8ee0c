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


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(n for n, mod in COMMANDS.items() if importlib.util.find_spec(mod))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        mod = COMMANDS.get(cmd_name)
        if mod is None or importlib.util.find_spec(mod) is None:
            return None
        return importlib.import_module(mod).command  # type: ignore[no-any-return]


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="tspush")
def cli() -> None:
    """tspush: push sensor readings to a time-series database, and keep them."""


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
