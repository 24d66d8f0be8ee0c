"""``tspush fingerprint`` against real TLS servers: what it prints is what the DER hashes to."""

from __future__ import annotations

import base64
import datetime
import hashlib

import pytest

from support.ports import free_port
from support.tls import Certs, RecordingServer, make_certs
from tspush.core import fingerprint as fp
from tspush.host import certinfo

NOW = datetime.datetime.now(datetime.UTC)


def spki_sha256(der: bytes) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = x509.load_der_x509_certificate(der).public_key()
    return hashlib.sha256(
        key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    ).digest()


def field(out: str, label: str) -> str:
    for line in out.splitlines():
        if line.startswith(label):
            return line[len(label) :].strip()
    raise AssertionError("no %r line in:\n%s" % (label, out))


def test_prints_sha1_first_and_every_fact(tspush, tmp_path):
    certs = make_certs(tmp_path, not_after=NOW + datetime.timedelta(days=100, hours=12))
    with RecordingServer(tls=True, certs=certs) as srv:
        r = tspush("fingerprint", "127.0.0.1:%d" % srv.port)
    assert r.returncode == 0, r.stderr
    sha1 = hashlib.sha1(certs.der).digest()
    assert r.stdout.splitlines()[0] == fp.format_original(sha1)
    assert len(r.stdout.splitlines()[0]) == 59  # 20 pairs and 19 spaces, as the original
    assert field(r.stdout, "SHA-1") == fp.format_original(sha1)
    assert field(r.stdout, "SHA-256") == fp.format_colon(hashlib.sha256(certs.der).digest())
    pin = spki_sha256(certs.der)
    assert field(r.stdout, "SPKI pin") == 'pin-sha256="%s"' % base64.b64encode(pin).decode()
    assert field(r.stdout, "SPKI hex") == pin.hex()
    assert field(r.stdout, "SANs") == "DNS:localhost, IP:127.0.0.1"
    assert "trustme" in field(r.stdout, "subject") and "Testing CA" in field(r.stdout, "issuer")
    assert field(r.stdout, "not after").endswith("(100 days left)")
    assert field(r.stdout, "verifies").startswith("NO, against the system CA store")
    assert r.stderr == ""


def test_verifies_with_ca_file_and_url_form(tspush, tmp_path):
    certs = make_certs(tmp_path)
    with RecordingServer(tls=True, certs=certs) as srv:
        r = tspush(
            "fingerprint",
            "https://127.0.0.1:%d/api/put" % srv.port,
            "--ca-file",
            str(certs.ca_file),
        )
    assert r.returncode == 0, r.stderr
    assert field(r.stdout, "verifies") == "yes, against %s for 127.0.0.1" % certs.ca_file


def test_expiring_soon_warns(tspush, tmp_path):
    certs = make_certs(tmp_path, not_after=NOW + datetime.timedelta(days=10, hours=12))
    with RecordingServer(tls=True, certs=certs) as srv:
        r = tspush("fingerprint", "127.0.0.1:%d" % srv.port)
    assert r.returncode == 0
    assert field(r.stdout, "not after").endswith("(10 days left)")
    assert "expires in 10 days" in r.stderr


def test_expired_is_said_clearly_and_still_fingerprinted(tspush, tmp_path):
    certs = make_certs(tmp_path, not_after=NOW - datetime.timedelta(days=3, hours=12))
    with RecordingServer(tls=True, certs=certs) as srv:
        r = tspush("fingerprint", "127.0.0.1:%d" % srv.port, "--ca-file", str(certs.ca_file))
    assert r.returncode == 0
    assert r.stdout.splitlines()[0] == fp.format_original(hashlib.sha1(certs.der).digest())
    assert field(r.stdout, "not after").endswith("(EXPIRED 3 days ago)")
    assert field(r.stdout, "verifies").startswith("NO")
    assert "has expired 3 days ago" in r.stderr


def chain_certs(tmp_path) -> Certs:
    import ssl

    import trustme

    root = trustme.CA()
    inter = root.create_child_ca()
    leaf = inter.issue_cert("127.0.0.1")
    root.cert_pem.write_to_path(str(tmp_path / "root.pem"))
    leaf.private_key_pem.write_to_path(str(tmp_path / "leaf.key"))
    with open(tmp_path / "chain.pem", "wb") as f:
        for blob in leaf.cert_chain_pems:
            f.write(blob.bytes())
    der = ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode())
    return Certs(tmp_path / "root.pem", tmp_path / "chain.pem", tmp_path / "leaf.key", der, root)


def test_chain_shows_leaf_and_intermediate(tspush, tmp_path):
    certs = chain_certs(tmp_path)
    with RecordingServer(tls=True, certs=certs) as srv:
        r = tspush(
            "fingerprint", "127.0.0.1:%d" % srv.port, "--chain", "--ca-file", str(certs.ca_file)
        )
        chain = certinfo.fetch_chain("127.0.0.1", srv.port)
    assert r.returncode == 0, r.stderr
    assert len(chain) == 2 and chain[0] == certs.der
    assert "chain (2 certificates, as sent by the server):" in r.stdout
    assert "[0] leaf" in r.stdout and "[1] intermediate/CA" in r.stdout
    sha1_inter = fp.format_original(hashlib.sha1(chain[1]).digest())
    assert "  SHA-1       " + sha1_inter in r.stdout
    assert field(r.stdout, "verifies").startswith("yes")


def self_signed(tmp_path) -> Certs:
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "d1mini-lab")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(days=1))
        .not_valid_after(NOW + datetime.timedelta(days=400))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "ss.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "ss.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    return Certs(tmp_path / "ss.pem", tmp_path / "ss.pem", tmp_path / "ss.key", der)


def test_self_signed_fingerprint_then_pin_it(tspush, tmp_path):
    """The pin workflow: fingerprint a self-signed server, paste line 1, push."""
    certs = self_signed(tmp_path)
    with RecordingServer(tls=True, certs=certs) as srv:
        r = tspush("fingerprint", "127.0.0.1:%d" % srv.port)
        pin = r.stdout.splitlines()[0]
        push = tspush(
            "push", "universe", "42", "--url", srv.url, "--token", "T0k", "--fingerprint", pin
        )
    assert r.returncode == 0
    assert field(r.stdout, "issuer") == "CN=d1mini-lab  (self-signed)"
    assert field(r.stdout, "SANs") == "IP:127.0.0.1"
    assert field(r.stdout, "verifies").startswith("NO")
    assert push.returncode == 0, push.stderr
    assert srv.requests[0].body == b'[{"metric":"universe","value":42,"tags":{}}]'


def test_errors_have_exit_codes(tspush):
    r = tspush("fingerprint", "127.0.0.1:%d" % free_port())
    assert r.returncode == 5 and "cannot connect" in r.stderr
    r = tspush("fingerprint", "127.0.0.1:http")
    assert r.returncode == 2 and "port 'http' is not a number" in r.stderr


@pytest.mark.parametrize(
    "target, expected",
    [
        ("example.net", ("example.net", 443)),
        ("example.net:8443", ("example.net", 8443)),
        ("https://example.net:9443/api/put", ("example.net", 9443)),
        ("[::1]:8443", ("::1", 8443)),
        ("::1", ("::1", 443)),
    ],
)
def test_split_target(target, expected):
    assert certinfo.split_target(target) == expected
