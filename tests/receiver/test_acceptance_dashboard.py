"""Acceptance: `tspush serve` and its dashboard as a new user meets them.

Each test is a defect found by following the README as a user.
"""

from __future__ import annotations

import ipaddress
import socket
import subprocess
import sys
from pathlib import Path

from cryptography import x509

from support.receiver import ReceiverProcess

TSPUSH = str(Path(sys.executable).with_name("tspush"))


def serve(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TSPUSH, "serve", "--no-auth", "--db", str(tmp_path / "rx.sqlite"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(tmp_path),
    )


def test_a_host_that_is_not_ours_names_host_not_port(tmp_path):
    r = serve(tmp_path, "--host", "host.invalid", "--port", "0")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith("tspush: error: --host: cannot listen on host.invalid")
    assert "--port" not in r.stderr


def test_a_taken_port_still_names_the_port(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        r = serve(tmp_path, "--port", str(port))
    assert r.returncode == 2
    assert r.stderr.startswith("tspush: error: --port: cannot listen on 127.0.0.1:%d" % port)


def _sans(cert_pem: Path) -> list[str]:
    cert = x509.load_pem_x509_certificate(cert_pem.read_bytes())
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    ips = [str(ip) for ip in ext.get_values_for_type(x509.IPAddress)]
    return ips + ext.get_values_for_type(x509.DNSName)


def test_self_signed_certificate_lists_each_address_once(tmp_path):
    with ReceiverProcess(tmp_path, "--tls") as rx:
        assert rx.url.startswith("https://")
    sans = _sans(tmp_path / "tls" / "cert.pem")
    assert sans.count("127.0.0.1") == 1 and sans.count("::1") == 1
    assert len(sans) == len(set(sans))


def test_self_signed_certificate_for_every_interface_holds_the_lan_addresses(tmp_path):
    """--host 0.0.0.0: a board connects to this machine's LAN address, not to 0.0.0.0."""
    import psutil

    from tspush.receiver import tls

    cert = tls.self_signed(tmp_path / "tls", ["0.0.0.0"])
    sans = _sans(cert.cert_path)
    assert "0.0.0.0" not in sans
    mine = {
        str(ipaddress.ip_address(a.address.split("%")[0]))
        for addrs in psutil.net_if_addrs().values()
        for a in addrs
        if a.family == socket.AF_INET
    }
    assert mine and mine <= set(sans)
