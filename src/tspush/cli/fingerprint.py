"""``tspush fingerprint HOST[:PORT]``: what the openssl pipeline printed, and more.

The first line is the SHA-1 exactly as the original board's FINGERPRINT
constant wants it (``AB CD ..``), so ``| head -1`` can go into a config.
"""

from __future__ import annotations

import click

from tspush.core import fingerprint as fp
from tspush.host import certinfo


def _show(info: certinfo.CertInfo, label: str = "") -> list[str]:
    pad = "  " if label else ""
    note, _warn = certinfo.expiry_note(info)
    lines = [
        "%sSHA-1       %s" % (pad, info.sha1_original),
        "%sSHA-256     %s" % (pad, fp.format_colon(info.sha256)),
        '%sSPKI pin    pin-sha256="%s"' % (pad, info.spki_pin_b64),
        "%sSPKI hex    %s" % (pad, fp.hex_plain(info.spki_sha256)),
        "%ssubject     %s" % (pad, info.subject),
        "%sissuer      %s%s" % (pad, info.issuer, "  (self-signed)" if info.self_signed else ""),
        "%sSANs        %s" % (pad, ", ".join(info.sans) or "(none)"),
        "%snot after   %s  (%s)"
        % (pad, info.not_after.strftime("%Y-%m-%d %H:%M:%S UTC") if info.not_after else "?", note),
    ]
    if label:
        lines.insert(0, label)
    return lines


@click.command("fingerprint")
@click.argument("target", metavar="HOST[:PORT]")
@click.option("--chain", is_flag=True, help="Show every certificate the server sends.")
@click.option("--ca-file", type=click.Path(dir_okay=False), help="Check trust against this CA.")
@click.option("--servername", help="TLS SNI name to ask for (default: HOST).")
@click.option(
    "--timeout",
    "timeout_s",
    type=float,
    default=10.0,
    show_default=True,
    help="Connect/handshake timeout in seconds.",
)
def command(
    target: str, chain: bool, ca_file: str | None, servername: str | None, timeout_s: float
) -> None:
    """Print the server certificate's fingerprints (SHA-1 first, as the board wants it).

    HOST[:PORT] is a host name or address (port 443 when none is given), or
    an https:// URL. Fetches the chain without verifying it, so self-signed and expired
    certificates can be pinned too; then says whether it verifies against
    the system CA store (or --ca-file).
    """
    host, port = certinfo.split_target(target)
    if ca_file:
        from tspush.host.transport import check_ca_file

        check_ca_file(ca_file, "--ca-file")
    ders = certinfo.fetch_chain(host, port, servername=servername, timeout_s=timeout_s)
    if not ders:
        raise click.ClickException("%s:%d sent no certificate" % (host, port))
    leaf = certinfo.describe(ders[0])
    click.echo(leaf.sha1_original)
    for line in _show(leaf):
        click.echo(line)
    verdict = certinfo.verify(
        host, port, ca_file=ca_file, servername=servername, timeout_s=timeout_s
    )
    store = ca_file or "the system CA store"
    if verdict.ok:
        click.echo("verifies    yes, against %s for %s" % (store, servername or host))
    else:
        click.echo("verifies    NO, against %s: %s" % (store, verdict.reason))
    note, warn = certinfo.expiry_note(leaf)
    if warn:
        if note.startswith("EXPIRED"):
            click.echo(
                "tspush: warning: the certificate of %s:%d has %s: clients that check dates "
                "will refuse it" % (host, port, note.replace("EXPIRED", "expired")),
                err=True,
            )
        else:
            click.echo(
                "tspush: warning: the certificate of %s:%d expires in %s: a pinned "
                "fingerprint will break when it is renewed"
                % (host, port, note.replace(" left", "")),
                err=True,
            )
    if chain:
        click.echo("")
        click.echo(
            "chain (%d certificate%s, as sent by the server):"
            % (len(ders), "" if len(ders) == 1 else "s")
        )
        for i, der in enumerate(ders):
            info = certinfo.describe(der)
            for line in _show(info, "[%d] %s" % (i, "leaf" if i == 0 else "intermediate/CA")):
                click.echo(line)
    click.echo("")
    click.echo('pin it:      --fingerprint "%s"' % leaf.sha1_original)
    click.echo("             (or the SHA-256; the SPKI lines pin the key, for other clients)")
