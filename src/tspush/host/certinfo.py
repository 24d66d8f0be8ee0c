"""Fetch a server's certificate chain and describe it: the ``openssl`` pipeline, replaced.

The chain is fetched WITHOUT verification so that self-signed, expired or
otherwise untrusted servers can still be fingerprinted (that is how a pin
is made); whether the chain verifies is then asked separately, with a
second, verifying handshake against the system store (or a CA file).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import socket
import ssl
from dataclasses import dataclass, field

from tspush.core import fingerprint as fp
from tspush.core.errors import ConfigError, ConnectError, DNSError, Timeout, TLSError

_DER = 2  # _ssl.ENCODING_DER, for Certificate.public_bytes on Python < 3.13
WARN_DAYS = 30


@dataclass
class CertInfo:
    der: bytes
    sha1: bytes
    sha256: bytes
    spki_sha256: bytes
    subject: str
    issuer: str
    sans: list[str] = field(default_factory=list)
    not_before: datetime.datetime | None = None
    not_after: datetime.datetime | None = None
    self_signed: bool = False

    @property
    def sha1_original(self) -> str:
        """``AB CD ..`` as the original board's FINGERPRINT constant."""
        return fp.format_original(self.sha1)

    @property
    def spki_pin_b64(self) -> str:
        """The HPKP-style ``pin-sha256`` value (base64 of the SPKI SHA-256)."""
        return base64.b64encode(self.spki_sha256).decode("ascii")

    def days_left(self, now: datetime.datetime | None = None) -> int:
        if self.not_after is None:
            return 0
        now = now or datetime.datetime.now(datetime.UTC)
        return int((self.not_after - now).total_seconds() // 86400)


@dataclass
class Verdict:
    ok: bool
    reason: str  # "" when ok


def split_target(target: str, default_port: int = 443) -> tuple[str, int]:
    """``HOST``, ``HOST:PORT``, ``[v6]:PORT`` or an https:// URL -> (host, port)."""
    t = target.strip()
    if "://" in t:
        from urllib3.util import parse_url

        u = parse_url(t)
        if not u.host:
            raise ConfigError("%r has no host name" % target, "host")
        return u.host.strip("[]"), u.port or default_port
    t = t.split("/", 1)[0]
    if t.startswith("["):
        host, _, rest = t[1:].partition("]")
        port_s = rest[1:] if rest.startswith(":") else ""
    elif t.count(":") == 1:
        host, _, port_s = t.partition(":")
    else:
        host, port_s = t, ""
    if not host:
        raise ConfigError("%r has no host name: write HOST or HOST:PORT" % target, "host")
    if port_s:
        try:
            port = int(port_s)
        except ValueError:
            raise ConfigError(
                "%r: port %r is not a number: write HOST:PORT" % (target, port_s), "port"
            ) from None
        if not 0 < port < 65536:
            raise ConfigError("%r: port %d is out of range" % (target, port), "port")
        return host, port
    return host, default_port


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def _connect(host: str, port: int, timeout_s: float) -> socket.socket:
    where = "%s:%d" % (host, port)
    try:
        return socket.create_connection((host, port), timeout=timeout_s)
    except socket.gaierror as e:
        raise DNSError("cannot resolve %s: check the host name (%s)" % (host, e), e) from e
    except TimeoutError as e:
        raise Timeout("%s: connect timed out: is the host up?" % where, e) from e
    except OSError as e:
        raise ConnectError(
            "cannot connect to %s: is the server running and the port right? (%s)" % (where, e), e
        ) from e


def fetch_chain(
    host: str, port: int = 443, servername: str | None = None, timeout_s: float = 10.0
) -> list[bytes]:
    """DER certificates the server sends, leaf first, without verifying anything."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    sni = servername or (None if _is_ip(host) else host)
    sock = _connect(host, port, timeout_s)
    try:
        with ctx.wrap_socket(sock, server_hostname=sni) as tls:
            chain_fn = getattr(tls, "get_unverified_chain", None)
            if chain_fn is None:
                chain_fn = getattr(getattr(tls, "_sslobj", None), "get_unverified_chain", None)
            chain: list[bytes] = []
            if chain_fn is not None:
                for c in chain_fn() or []:
                    chain.append(c if isinstance(c, bytes) else c.public_bytes(_DER))
            if not chain:
                leaf = tls.getpeercert(binary_form=True)
                if leaf:
                    chain = [leaf]
            return chain
    except ssl.SSLError as e:
        raise TLSError(
            "%s:%d: TLS handshake failed (%s): is this an https port?" % (host, port, e), e
        ) from e
    except OSError as e:
        raise ConnectError("%s:%d: connection failed during TLS: %s" % (host, port, e), e) from e
    finally:
        sock.close()


def verify(
    host: str,
    port: int = 443,
    ca_file: str | None = None,
    servername: str | None = None,
    timeout_s: float = 10.0,
) -> Verdict:
    """Whether a normal, verifying client would accept this server (system store or ca_file)."""
    ctx = ssl.create_default_context(cafile=ca_file)
    name = servername or host
    sock = _connect(host, port, timeout_s)
    try:
        with ctx.wrap_socket(sock, server_hostname=name):
            return Verdict(True, "")
    except ssl.SSLCertVerificationError as e:
        return Verdict(False, e.verify_message or str(e))
    except (ssl.SSLError, OSError) as e:
        return Verdict(False, str(e))
    finally:
        sock.close()


def describe(der: bytes) -> CertInfo:
    """Fingerprints, names and dates of one DER certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    cert = x509.load_der_x509_certificate(der)
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    sans: list[str] = []
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans += ["DNS:" + n for n in ext.get_values_for_type(x509.DNSName)]
        sans += ["IP:" + str(ip) for ip in ext.get_values_for_type(x509.IPAddress)]
        sans += ["URI:" + u for u in ext.get_values_for_type(x509.UniformResourceIdentifier)]
    except x509.ExtensionNotFound:
        pass
    return CertInfo(
        der=der,
        sha1=hashlib.sha1(der).digest(),
        sha256=hashlib.sha256(der).digest(),
        spki_sha256=hashlib.sha256(spki).digest(),
        subject=cert.subject.rfc4514_string() or "(empty)",
        issuer=cert.issuer.rfc4514_string() or "(empty)",
        sans=sans,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        self_signed=cert.subject == cert.issuer,
    )


def expiry_note(info: CertInfo, now: datetime.datetime | None = None) -> tuple[str, bool]:
    """(``"123 days left"`` / ``"EXPIRED 4 days ago"``, whether to warn)."""
    now = now or datetime.datetime.now(datetime.UTC)
    days = info.days_left(now)
    if info.not_after is not None and info.not_after <= now:
        ago = int((now - info.not_after).total_seconds() // 86400)
        return "EXPIRED %d day%s ago" % (ago, "" if ago == 1 else "s"), True
    return "%d day%s left" % (days, "" if days == 1 else "s"), days < WARN_DAYS
