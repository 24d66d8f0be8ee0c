"""``tspush serve``: the OpenTSDB-compatible receiver, with a dashboard.

Somewhere to send data now that OVH Metrics is gone: boards and ``tspush
push`` write to ``/api/put``; Grafana (OpenTSDB data source) and the
built-in dashboard read. With ``--forward`` it is also a LAN gateway that
relays what it stores to a bigger engine.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import sys
from pathlib import Path
from typing import Any

import click

from tspush import __version__
from tspush.core.errors import ConfigError
from tspush.host import profiles

DEFAULT_PORT = 4242
TOKENS_FILE = "tokens.json"


def default_db_path() -> Path:
    """Per-user data directory, e.g. ``~/.local/share/tspush/receiver.sqlite``."""
    import platformdirs

    return Path(platformdirs.user_data_dir("tspush")) / "receiver.sqlite"


def parse_retention_s(text: str | None, option: str = "--retention") -> float | None:
    if not text or text in ("0", "forever", "none"):
        return None
    from tspush.receiver.errors import ApiError
    from tspush.receiver.query import parse_duration_ms

    try:
        return parse_duration_ms(text) / 1000.0
    except ApiError:
        raise ConfigError("%r is not a duration: use e.g. 30d, 12h or 90m" % text, option) from None


def stored_tokens(directory: Path) -> tuple[str, str, Path]:
    """Write and read tokens kept in ``directory/tokens.json`` (made on first start, mode 0600)."""
    path = directory / TOKENS_FILE
    if path.is_file():
        try:
            doc = json.loads(path.read_text())
            return str(doc["write"]), str(doc["read"]), path
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ConfigError(
                "cannot read %s (%s): fix or delete it to make new tokens" % (path, e), "tokens"
            ) from None
    directory.mkdir(parents=True, exist_ok=True)
    doc = {"write": secrets.token_urlsafe(24), "read": secrets.token_urlsafe(24)}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    return doc["write"], doc["read"], path


def read_token_file(path: str, option: str) -> str:
    """The first line of a token file; ConfigError naming the file and the fix."""
    from tspush.host.config import warn_if_readable

    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as e:
        why = e.strerror if isinstance(e, OSError) and e.strerror else e
        raise ConfigError("%s: cannot read %s: %s" % (option, p, why), option) from None
    if not text:
        raise ConfigError("%s: %s is empty: put the token on its first line" % (option, p), option)
    warn_if_readable(p, lambda message: click.echo(message, err=True))
    return text.splitlines()[0].strip()


def resolve_tokens(opts: dict[str, Any]) -> None:
    """Each ``--x-token-file`` (or its TSPUSH_..._FILE variable) read into ``opts["x_token"]``.

    A token given both ways is refused: which one wins would be a guess.
    """
    for name in ("token", "write_token", "read_token", "forward_token"):
        path = opts.get(name + "_file")
        if not path:
            continue
        option = "--" + name.replace("_", "-")
        if opts.get(name):
            raise ConfigError(
                "%s and %s-file both given (on the command line or in TSPUSH_ variables): "
                "give one" % (option, option),
                option + "-file",
            )
        opts[name] = read_token_file(path, option + "-file")


class _UvicornHints(logging.Filter):
    """uvicorn's own warnings in our format, with the likely cause where we know it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage() == "Invalid HTTP request received.":
            record.msg = (
                "invalid HTTP request received (a client speaking TLS to this plain http "
                "port? then start with --tls, or use http:// on the client)"
            )
            record.args = ()
        return True


def setup_logging(quiet: bool, fmt: str = "logfmt", secrets: list[str] | None = None) -> Any:
    """Every log line of the process through one handler: tspush.host.logs' format,
    token masking and control-character escaping (clients' paths and metric names
    are logged). Returns the handler, to add secrets to and share with the relay."""
    from tspush.host.logs import LineHandler, attach

    handler = LineHandler(sys.stdout, fmt, "warning" if quiet else "info", secrets or [])
    attach(handler, "tspush", "urllib3", only=True)  # urllib3: the relay's transport
    uv = logging.getLogger("uvicorn.error")  # Server() keeps uvicorn from configuring it
    attach(handler, "uvicorn.error", only=True)
    uv.filters[:] = [_UvicornHints()]
    uv.setLevel(logging.WARNING)
    return handler


def make_relay(opts: dict[str, Any], db_path: Path, log: Any = None) -> Any:
    """A tspush.host.relay.Relay for ``--forward`` (imported only when asked for)."""
    try:
        from tspush.host.relay import Relay
    except ImportError as e:
        raise ConfigError(
            "forwarding is not available in this build (%s); run without --forward" % e,
            "--forward",
        ) from None
    spool_dir = Path(opts["spool_dir"]) if opts["spool_dir"] else db_path.parent / "relay-spool"
    return Relay(
        opts["forward"],
        token=opts["forward_token"],
        profile=opts["forward_profile"],
        spool_dir=spool_dir,
        fingerprint=opts["forward_fingerprint"],
        ca_file=opts["forward_ca_file"],
        insecure=opts["forward_insecure"],
        log=log,
    )


def echo(text: str = "") -> None:
    click.echo(text)
    sys.stdout.flush()


@click.command("serve")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; 0.0.0.0 to accept boards on the LAN.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="TCP port (0: any free port).",
)
@click.option(
    "--db",
    "db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="SQLite database file [default: per-user data dir/receiver.sqlite].",
)
@click.option(
    "--token-file",
    envvar="TSPUSH_SERVE_TOKEN_FILE",
    type=click.Path(dir_okay=False),
    default=None,
    help="File holding one token for both writing and reading (env TSPUSH_SERVE_TOKEN_FILE).",
)
@click.option(
    "--write-token-file",
    envvar="TSPUSH_WRITE_TOKEN_FILE",
    type=click.Path(dir_okay=False),
    default=None,
    help="File holding the token for POST /api/put (env TSPUSH_WRITE_TOKEN_FILE).",
)
@click.option(
    "--read-token-file",
    envvar="TSPUSH_READ_TOKEN_FILE",
    type=click.Path(dir_okay=False),
    default=None,
    help="File holding the token for queries and the dashboard (env TSPUSH_READ_TOKEN_FILE).",
)
@click.option(
    "--token",
    envvar="TSPUSH_SERVE_TOKEN",
    default=None,
    help="One token for both (prefer --token-file or env TSPUSH_SERVE_TOKEN: ps shows it).",
)
@click.option(
    "--write-token",
    envvar="TSPUSH_WRITE_TOKEN",
    default=None,
    help="Token for POST /api/put (prefer --write-token-file or env TSPUSH_WRITE_TOKEN).",
)
@click.option(
    "--read-token",
    envvar="TSPUSH_READ_TOKEN",
    default=None,
    help="Token for queries (prefer --read-token-file or env TSPUSH_READ_TOKEN).",
)
@click.option("--no-auth", is_flag=True, help="No tokens at all: only on a closed network.")
@click.option(
    "--strict",
    is_flag=True,
    help="Stock OpenTSDB's rules: tags and timestamp required, bodies up to 8192 bytes.",
)
@click.option("--retention", default=None, help="Delete points older than this (e.g. 30d).")
@click.option(
    "--retention-1m",
    "retention_1m",
    default=None,
    help="Keep 1-minute rollups (min/max/sum/count) this long (default: as --retention).",
)
@click.option(
    "--retention-1h",
    "retention_1h",
    default=None,
    help="Keep 1-hour rollups this long (default: as --retention), e.g. 5y for long views.",
)
@click.option(
    "--max-body-bytes",
    type=click.IntRange(min=64),
    default=1_048_576,
    show_default=True,
    help="Larger request bodies get 413.",
)
@click.option(
    "--max-points",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Most data points in one request.",
)
@click.option(
    "--max-name-chars",
    type=click.IntRange(min=1),
    default=256,
    show_default=True,
    help="Longest metric name, tag key or tag value.",
)
@click.option(
    "--max-series",
    type=click.IntRange(min=1),
    default=100_000,
    show_default=True,
    help="Most distinct metric+tag sets; points of further new series are refused.",
)
@click.option(
    "--max-series-bytes",
    type=click.IntRange(min=1024),
    default=64 * 1024 * 1024,
    show_default=True,
    help="Most bytes (UTF-8) of metric names and tags over all series: bounds memory, "
    "which holds a few copies of them.",
)
@click.option(
    "--body-timeout",
    "body_timeout_s",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    help="Seconds a client may take to send a request body (then 408).",
)
@click.option(
    "--header-timeout",
    "header_timeout_s",
    type=click.FloatRange(min=0.1),
    default=5.0,
    show_default=True,
    help="Seconds a connection may take to send a request's headers (then it is closed).",
)
@click.option(
    "--max-client-connections",
    type=click.IntRange(min=1),
    default=256,
    show_default=True,
    help="Open connections per client address; the oldest idle one makes room for a new one.",
)
@click.option(
    "--query-timeout",
    "query_timeout_s",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds one query may run (then 413); queries never hold up writes.",
)
@click.option("--tls", is_flag=True, help="HTTPS; self-signed certificate unless --cert/--key.")
@click.option(
    "--cert",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="PEM certificate (chain) for --tls, e.g. from your own CA.",
)
@click.option(
    "--key",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="PEM private key of --cert.",
)
@click.option("--forward", default=None, help="Relay stored points to this URL as well.")
@click.option(
    "--forward-token-file",
    envvar="TSPUSH_FORWARD_TOKEN_FILE",
    type=click.Path(dir_okay=False),
    default=None,
    help="File holding the token for --forward (env TSPUSH_FORWARD_TOKEN_FILE).",
)
@click.option(
    "--forward-token",
    envvar="TSPUSH_FORWARD_TOKEN",
    default=None,
    help="Token for --forward (prefer --forward-token-file or env TSPUSH_FORWARD_TOKEN).",
)
@click.option(
    "--forward-profile",
    "--profile",
    "forward_profile",
    type=click.Choice(sorted(profiles.PROFILES)),
    default="ovh",
    show_default=True,
    help="Engine profile of --forward.",
)
@click.option("--forward-fingerprint", default=None, help="Pin --forward's certificate.")
@click.option(
    "--forward-ca-file", metavar="FILE", default=None, help="CA file (PEM) for --forward."
)
@click.option("--forward-insecure", is_flag=True, help="Do not check --forward's certificate.")
@click.option("--spool-dir", default=None, help="Relay spool [default: next to the database].")
@click.option("--quiet", is_flag=True, help="No line per request.")
@click.option(
    "--log-format",
    type=click.Choice(["logfmt", "json"]),
    default="logfmt",
    show_default=True,
    help="Log lines as logfmt (key=value) or JSON, as tspush run writes them.",
)
def command(**opts: Any) -> None:
    """Receive OpenTSDB /api/put, store in SQLite, answer /api/query, serve a dashboard."""
    if not opts["forward"]:
        # --profile names the engine of --forward; without it, it would be ignored silently
        # (someone wanting stock OpenTSDB's rules here wants --strict).
        ctx = click.get_current_context()
        names = {
            "forward_profile": "--profile/--forward-profile",
            "forward_fingerprint": "--forward-fingerprint",
            "forward_ca_file": "--forward-ca-file",
            "forward_token_file": "--forward-token-file",
        }
        given = [
            option
            for name, option in names.items()
            if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE
        ] + (["--forward-insecure"] if opts["forward_insecure"] else [])
        if given:
            raise ConfigError(
                "%s: used only with --forward URL (relaying upstream); add --forward, or "
                "leave out (for stock OpenTSDB's rules here, use --strict)" % ", ".join(given),
                "--forward",
            )
    resolve_tokens(opts)
    run_serve(opts)


def run_serve(opts: dict[str, Any]) -> None:
    from tspush.receiver import tls as tlsmod
    from tspush.receiver.app import create_app, prepare_db_path
    from tspush.receiver.server import Server, bind, url_of

    # Ctrl-C and SIGTERM only ask to stop, from the first moment: the server
    # stops as soon as it has started, and run() returns normally.
    servers: list[Any] = []
    stop_asked: list[bool] = []

    def on_stop(signum: int, frame: Any) -> None:
        stop_asked.append(True)
        for srv in servers:
            srv.uvicorn.should_exit = True

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    from tspush.core.auth import secret_forms

    tokens = [opts[k] for k in ("token", "write_token", "read_token", "forward_token")]
    handler = setup_logging(
        opts["quiet"], opts["log_format"], [f for t in tokens for f in secret_forms(t)]
    )
    db_path: Path = opts["db"] or default_db_path()
    retention_s = parse_retention_s(opts["retention"])
    prepare_db_path(db_path)  # first: tokens.json and the TLS key go beside it
    rollup_retention_s = (
        parse_retention_s(opts["retention_1m"], "--retention-1m"),
        parse_retention_s(opts["retention_1h"], "--retention-1h"),
    )
    write_token = opts["write_token"] or opts["token"]
    read_token = opts["read_token"] or opts["token"]
    token_note = "as given: files, environment or command line"
    given_file = opts.get("read_token_file") or opts.get("token_file")
    read_from = "in the file %s" % given_file if given_file else "as given (--read-token/--token)"
    if opts["no_auth"]:
        write_token = read_token = None
    elif not write_token and not read_token:
        write_token, read_token, tpath = stored_tokens(db_path.parent)
        handler.redact.add(secret_forms(write_token) + secret_forms(read_token))
        token_note = "kept in %s" % tpath
        read_from = 'the "read" entry of %s' % tpath
    elif not write_token or not read_token:
        missing = "--write-token" if not write_token else "--read-token"
        raise ConfigError(
            "give both a write and a read token (--write-token-file and --read-token-file, "
            "or --token-file for both, or their TSPUSH_ variables), or --no-auth",
            missing,
        )
    if (opts["cert"] is None) != (opts["key"] is None):
        raise ConfigError("give both --cert and --key, or neither", "--cert")
    cert = None
    if opts["tls"] or opts["cert"]:
        if opts["cert"]:
            cert = tlsmod.load(opts["cert"], opts["key"])
        else:
            cert = tlsmod.self_signed(db_path.parent / "tls", [opts["host"]])

    from tspush.host.logs import Logger

    relay = make_relay(opts, db_path, Logger(handler=handler)) if opts["forward"] else None
    app = create_app(
        db_path=db_path,
        write_token=write_token,
        read_token=read_token,
        no_auth=opts["no_auth"],
        strict=opts["strict"],
        retention_s=retention_s,
        rollup_retention_s=rollup_retention_s,
        max_body_bytes=opts["max_body_bytes"],
        max_points=opts["max_points"],
        max_name_chars=opts["max_name_chars"],
        body_timeout_s=opts["body_timeout_s"],
        max_series=opts["max_series"],
        query_timeout_s=opts["query_timeout_s"],
        max_series_bytes=opts["max_series_bytes"],
        on_accepted=relay.accept if relay is not None else None,
    )
    sock = bind(opts["host"], opts["port"])
    url = url_of(sock, cert is not None)
    echo("tspush serve %s: OpenTSDB HTTP API, database %s" % (__version__, db_path))
    if opts["no_auth"]:
        echo("  auth: OFF (--no-auth): anyone who can reach this port can write and read")
    else:
        echo("  auth: write token for /api/put, read token for queries and the dashboard")
        echo("        (Basic password or Bearer; tokens %s)" % token_note)
    echo(
        "  rules: %s"
        % (
            "strict (real OpenTSDB: tags and timestamp required)"
            if opts["strict"]
            else "lenient (as OVH: no tags is fine, no timestamp = now)"
        )
    )
    echo("  retention: %s" % (opts["retention"] if retention_s else "keep everything"))
    for name, kept in zip(("1-minute", "1-hour"), rollup_retention_s, strict=True):
        if kept:
            echo("    %s rollups kept %d days" % (name, kept // 86400))
    if cert is not None:
        how = "generated now, kept for next time" if cert.generated else "kept"
        echo("  TLS certificate %s (%s)" % (cert.cert_path, how))
        echo("    SHA-1   %s" % cert.sha1_original)
        echo("    SHA-256 %s" % cert.sha256_colon)
    if relay is not None:
        from tspush.core.auth import redact

        fwd = redact(opts["forward"], secret_forms(opts["forward_token"]))
        echo("  forwarding to %s (profile %s)" % (fwd, opts["forward_profile"]))
    server = Server(
        app,
        sock,
        cert_path=str(cert.cert_path) if cert else None,
        key_path=str(cert.key_path) if cert else None,
        header_timeout_s=opts["header_timeout_s"],
        max_client_connections=opts["max_client_connections"],
    )
    servers.append(server)  # uvicorn takes the signals while it runs, then gives them back
    if stop_asked:
        server.uvicorn.should_exit = True
    if opts["no_auth"]:
        echo("  dashboard: %s/" % url)
    else:  # the token is never printed: a link that works as printed, and where the token is
        echo("  dashboard: %s/  (the browser asks for a password: any user, the read token)" % url)
        echo("             read token: %s" % read_from)
    echo("listening on %s" % url)
    try:
        if relay is not None:
            relay.start()
        server.run()
    except KeyboardInterrupt:
        pass  # a Ctrl-C that came between two handlers: a normal stop too
    finally:
        if relay is not None:
            relay.stop()
        echo("tspush serve: stopped")
