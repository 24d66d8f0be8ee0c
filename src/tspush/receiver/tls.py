"""A TLS certificate for ``tspush serve --tls``: given, or made once and kept.

Boards pin the certificate by fingerprint (as the original sketch did), so
the self-signed certificate is generated on first run, written next to the
database and reused on every start: its fingerprint stays the same until
the files are deleted. RSA 2048, because small boards' TLS stacks (axTLS on
the ESP8266) handle RSA but not always ECDSA.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import socket
from pathlib import Path

from tspush.core import fingerprint
from tspush.core.errors import ConfigError

VALID_DAYS = 3650


class CertInfo:
    """Paths of a certificate and key, and the certificate's fingerprints."""

    def __init__(self, cert_path: Path, key_path: Path, der: bytes, generated: bool) -> None:
        self.cert_path = cert_path
        self.key_path = key_path
        self.der = der
        self.generated = generated

    @property
    def sha1_original(self) -> str:
        """``AB CD ..``: paste into the original sketch's FINGERPRINT or tspush's config."""
        return fingerprint.format_original(hashlib.sha1(self.der).digest())

    @property
    def sha256_colon(self) -> str:
        return fingerprint.format_colon(hashlib.sha256(self.der).digest())


def _der_of(cert_path: Path) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError) as e:
        raise ConfigError(
            "cannot read the certificate %s: %s; give a PEM file" % (cert_path, e), "--cert"
        ) from None
    return cert.public_bytes(Encoding.DER)


def load(cert_path: str | Path, key_path: str | Path) -> CertInfo:
    """A given certificate and key (both PEM)."""
    cp, kp = Path(cert_path), Path(key_path)
    if not kp.is_file():
        raise ConfigError("no such key file %s: give the PEM private key" % kp, "--key")
    return CertInfo(cp, kp, _der_of(cp), False)


def self_signed(directory: str | Path, hosts: list[str] | None = None) -> CertInfo:
    """``cert.pem``/``key.pem`` in ``directory``, generated on first use, then kept."""
    d = Path(directory)
    cp, kp = d / "cert.pem", d / "key.pem"
    if cp.is_file() and kp.is_file():
        return CertInfo(cp, kp, _der_of(cp), False)
    d.mkdir(parents=True, exist_ok=True)
    key_pem, cert_pem, der = _generate(hosts or [])
    _write_private(kp, key_pem)
    tmp = cp.with_suffix(".tmp")
    tmp.write_bytes(cert_pem)
    os.replace(tmp, cp)
    return CertInfo(cp, kp, der, True)


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _san_hosts(hosts: list[str]) -> list[str]:
    """Loopback, the --host given, and for 0.0.0.0 / :: this machine's addresses, once each.

    A board that verifies the certificate against itself (not only a pin)
    connects to the LAN address, so that address must be in the certificate.
    """
    out = ["127.0.0.1", "::1"]
    for h in hosts:
        if h in ("0.0.0.0", "::", ""):
            import psutil

            for addrs in psutil.net_if_addrs().values():
                out += [
                    a.address.split("%")[0]
                    for a in addrs
                    if a.family in (socket.AF_INET, socket.AF_INET6)
                ]
        else:
            out.append(h)
    seen: dict[str, None] = {}
    for h in out:
        try:
            key = str(ipaddress.ip_address(h))
        except ValueError:
            key = h
        seen.setdefault(key)
    return list(seen)


def _generate(hosts: list[str]) -> tuple[bytes, bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = socket.gethostname() or "tspush"
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name[:64])])
    sans: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.DNSName(name)]
    for h in _san_hosts(hosts):
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            if h and h not in ("localhost", name):
                sans.append(x509.DNSName(h))
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return (
        key_pem,
        cert.public_bytes(serialization.Encoding.PEM),
        cert.public_bytes(serialization.Encoding.DER),
    )
