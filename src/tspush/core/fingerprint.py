"""Certificate fingerprints in every form people paste them.

Accepted: the original's ``"AB CD EF ..."`` (20 pairs, SHA-1), colon-separated
``ab:cd:..``, plain hex, SHA-1 (20 bytes) or SHA-256 (32 bytes), optionally
prefixed with ``sha1:``/``sha256:``/``SHA1 Fingerprint=``.
"""

import binascii

from tspush.core.errors import ConfigError

SHA1 = "sha1"
SHA256 = "sha256"
_LENGTHS = {20: SHA1, 32: SHA256}


def parse(text: str, key: str = "fingerprint"):
    """Return ``(algorithm, digest_bytes)``; ConfigError naming the fix otherwise."""
    s = text
    # invisible characters that web pages and chat apps slip into a pasted value
    for ch in ("\u200b", "\u200c", "\u200d", "\ufeff", "\u00a0"):
        s = s.replace(ch, " ")
    s = s.strip()
    low = s.lower()
    if low.startswith("pin-sha256") or low.startswith("spki"):
        raise ConfigError(
            "%r is a public-key (SPKI) pin; tspush pins the certificate: give the SHA-1 or "
            "SHA-256 line of 'tspush fingerprint HOST'" % text,
            key,
        )
    for prefix in ("sha1 fingerprint=", "sha256 fingerprint=", "sha1:", "sha256:", "sha-1:"):
        if low.startswith(prefix):
            s = s[len(prefix) :]
            break
    hexs = s.replace(" ", "").replace(":", "").replace("-", "")
    try:
        digest = binascii.unhexlify(hexs)
    except (ValueError, TypeError):
        digest = None
    if not digest or len(digest) not in _LENGTHS:
        raise ConfigError(
            "%r is not a certificate fingerprint: give 20 (SHA-1) or 32 (SHA-256) hex pairs, "
            "e.g. as printed by 'tspush fingerprint HOST'" % text,
            key,
        )
    return _LENGTHS[len(digest)], digest


def hex_plain(digest: bytes) -> str:
    return binascii.hexlify(digest).decode()


def format_original(digest: bytes) -> str:
    """``AB CD EF ..``: upper-case pairs separated by spaces, as the original's config."""
    h = binascii.hexlify(digest).decode().upper()
    return " ".join(h[i : i + 2] for i in range(0, len(h), 2))


def format_colon(digest: bytes) -> str:
    h = binascii.hexlify(digest).decode().upper()
    return ":".join(h[i : i + 2] for i in range(0, len(h), 2))


def matches(der: bytes, algorithm: str, digest: bytes) -> bool:
    """Whether the DER certificate has the given fingerprint."""
    import hashlib

    h = hashlib.sha1(der) if algorithm == SHA1 else hashlib.sha256(der)
    return h.digest() == digest
