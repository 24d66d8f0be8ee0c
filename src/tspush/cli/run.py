"""``tspush run``: the always-on agent (sources -> spool -> outputs) until SIGTERM/SIGINT."""

from __future__ import annotations

import click

from tspush.host import agent_config
from tspush.host.config import CONFIG_HELP


@click.command("run")
@click.option(
    "--config",
    "config_path",
    metavar="FILE",
    help=CONFIG_HELP + " Its [[outputs]] and [[sources]] make the agent.",
)
@click.option("--check", is_flag=True, help="Validate the config, print a summary and exit.")
@click.option(
    "--sample", is_flag=True, help="Print the sample config (every key, with its default) and exit."
)
def command(config_path: str | None, check: bool, sample: bool) -> int:
    """Sample sources, keep every point in a spool on disk, and send to every output.

    Nothing accepted is lost while the network or the server is down: points
    wait in the spool and go out, in order and with their own timestamps,
    when the server is back. See docs/agent.md and the sample config.
    """
    if sample:
        from importlib.resources import files

        click.echo(files("tspush").joinpath("sample-config.toml").read_text(), nl=False)
        return 0
    cfg = agent_config.load(config_path)
    from tspush.host.spoollock import dir_error, dir_problem

    why = dir_problem(cfg.spool.dir)
    if why is not None:  # found by --check, not by a traceback after it said OK
        raise dir_error(cfg.spool.dir, why, "[spool] dir")
    if check:
        click.echo("config OK: %s" % (cfg.path or "(environment only)"))
        click.echo(
            "spool: %s (at most %s; points older than %s dropped)"
            % (cfg.spool.dir, _size(cfg.spool.max_bytes), _duration(cfg.spool.max_age_s))
        )
        for s in cfg.sources:
            click.echo(
                "source %s: %s every %ss%s"
                % (s.options.get("name"), s.kind, s.options.get("interval_s"), _given(s))
            )
        for o in cfg.outputs:
            prof = o.profile()
            click.echo(
                "output %s: %s (profile %s, up to %d points / %d bytes per request, flush %ss)"
                % (
                    o.name,
                    o.settings.url,
                    prof.name,
                    prof.max_points,
                    prof.max_bytes,
                    o.flush_interval_s,
                )
            )
            if o.settings.token and prof.auth_scheme == "none":
                click.echo(
                    "note: output %s: profile %s sends no auth, so its token is not used "
                    '(add auth = "basic" or "bearer" if the server wants one)' % (o.name, prof.name)
                )
        if not cfg.sources:
            click.echo("note: no [[sources]]: the agent only forwards what is already spooled")
        return 0
    from tspush.host.agent import Agent

    Agent(cfg).run_forever()
    return 0


def _size(n_bytes: float) -> str:
    """1073741824 -> '1 GiB', as the README and the sample config say it."""
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n_bytes >= factor:
            return "%g %s" % (round(n_bytes / factor, 2), unit)
    return "%d bytes" % n_bytes


def _duration(seconds: float) -> str:
    """604800 -> '7 days'."""
    for unit, factor in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= factor:
            return "%g %s" % (round(seconds / factor, 2), unit)
    return "%d s" % seconds


def _given(src: agent_config.SourceConfig) -> str:
    """The source's own keys set in the file, as its declarations name them; secrets hidden."""
    from tspush.host.options import toml_value
    from tspush.host.sources import KINDS

    shown = [
        "%s = %s" % (o.name, "***" if o.secret else toml_value(src.options[o.name]))
        for o in KINDS[src.kind].OPTIONS
        if o.name in src.options
    ]
    return " (%s)" % ", ".join(shown) if shown else ""
