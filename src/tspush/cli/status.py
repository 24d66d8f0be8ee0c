"""``tspush status``: what the agent is doing, from the state file it keeps."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tspush.host import agent_config
from tspush.host.config import CONFIG_HELP
from tspush.host.status import format_status, read_state


@click.command("status")
@click.option(
    "--config", "config_path", metavar="FILE", help=CONFIG_HELP + " The one 'tspush run' uses."
)
@click.option("--state-file", metavar="FILE", help="Read this state file instead of the config's.")
@click.option("--json", "as_json", is_flag=True, help="Print the raw state as JSON.")
def command(config_path: str | None, state_file: str | None, as_json: bool) -> int:
    """Spool depth and age per output, last error and when, drops and dead letters."""
    if state_file:
        path = Path(state_file)
    else:
        path = agent_config.load(config_path, need_tokens=False).state_file
    state = read_state(path)
    if as_json:
        click.echo(json.dumps(state, indent=1, sort_keys=True))
    else:
        click.echo(format_status(state))
    return 0
