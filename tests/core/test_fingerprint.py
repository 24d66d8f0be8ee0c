"""Fingerprints in the original's format and the others people paste."""

import hashlib

from mpcompat import raises
from tspush.core import fingerprint as fp
from tspush.core.errors import ConfigError

DER = b"not really a certificate but bytes all the same"
SHA1 = hashlib.sha1(DER).digest()
SHA256 = hashlib.sha256(DER).digest()


def test_original_format_round_trip():
    text = fp.format_original(SHA1)
    assert len(text.split(" ")) == 20
    assert text == text.upper()
    assert fp.parse(text) == (fp.SHA1, SHA1)


def test_colon_plain_and_prefixed():
    assert fp.parse(fp.format_colon(SHA1).lower()) == (fp.SHA1, SHA1)
    assert fp.parse(fp.hex_plain(SHA256)) == (fp.SHA256, SHA256)
    assert fp.parse("SHA1 Fingerprint=" + fp.format_colon(SHA1)) == (fp.SHA1, SHA1)
    assert fp.parse("sha256:" + fp.hex_plain(SHA256)) == (fp.SHA256, SHA256)


def test_bad_fingerprints_name_the_fix():
    for bad in ("", "zz", "AB CD", fp.hex_plain(SHA1)[:-2], "XX " * 20):
        e = raises(ConfigError, fp.parse, bad)
        assert "fingerprint" in str(e) and "hex pairs" in str(e)


def test_matches():
    assert fp.matches(DER, fp.SHA1, SHA1)
    assert fp.matches(DER, fp.SHA256, SHA256)
    assert not fp.matches(DER + b"x", fp.SHA1, SHA1)
