"""The token in an Authorization header, compared in constant time.

The original board sends ``basic base64("DESC:" + TOKEN)`` (lower-case
scheme, any user name): the password is the token. ``Bearer TOKEN`` and
Influx's ``Token TOKEN`` work too. Servers hand header values over decoded
as latin-1; encoding back gives the bytes the client sent, so a token with
non-ASCII characters (UTF-8) matches and any other header is a plain
refusal, never an error.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac


def digest(token: str | bytes) -> bytes:
    return hashlib.sha256(token.encode() if isinstance(token, str) else token).digest()


def token_in(header: str | None) -> bytes | None:
    """The token in an Authorization value (Basic password, Bearer or Token), if any."""
    if not header:
        return None
    raw = header.encode("latin-1", "replace")
    scheme, _, rest = raw.strip().partition(b" ")
    scheme = scheme.lower()
    rest = rest.strip()
    if scheme in (b"bearer", b"token"):
        return rest
    if scheme == b"basic":
        if not rest.isascii():
            return None
        try:
            decoded = binascii.a2b_base64(rest)
        except (binascii.Error, ValueError):
            return None
        user, colon, password = decoded.partition(b":")
        return password if colon else user
    return None


def same(want: bytes | None, given: str | bytes | None) -> bool:
    """``given`` is the token whose ``digest`` is ``want`` (both present)."""
    if want is None or given is None:
        return False
    return hmac.compare_digest(want, digest(given))
