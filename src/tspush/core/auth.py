"""Authorization headers, and keeping the token out of every message.

The original board sent ``Authorization: basic base64("DESC:" + TOKEN)``.
We send ``Basic`` as RFC 7617 writes it (strict proxies such as vmauth
compare the header literally), with a configurable user.
"""

import binascii

BASIC = "basic"
BEARER = "bearer"
TOKEN = "token"  # InfluxDB 2.x: "Authorization: Token ..."
WARP10 = "warp10"  # Warp 10: "X-Warp10-Token: ..."
NONE = "none"
SCHEMES = (BASIC, BEARER, TOKEN, WARP10, NONE)
DEFAULT_USER = "DESC"
MASK = "***"


def b64(data: bytes) -> str:
    return binascii.b2a_base64(data).decode().strip()


def basic_value(user: str, token: str) -> str:
    return "Basic " + b64((user + ":" + token).encode())


def header(scheme: str, token, user: str = DEFAULT_USER):
    """The ``Authorization`` header value, or None for no auth."""
    if not token or scheme == NONE:
        return None
    if scheme == BASIC:
        return basic_value(user, token)
    if scheme == BEARER:
        return "Bearer " + token
    if scheme == TOKEN:
        return "Token " + token
    if scheme == WARP10:
        return token
    raise ValueError("auth scheme %r: use one of %s" % (scheme, ", ".join(SCHEMES)))


def header_pair(scheme: str, token, user: str = DEFAULT_USER):
    """``(header_name, value)`` to send, or None for no auth."""
    value = header(scheme, token, user)
    if value is None:
        return None
    if scheme == WARP10:
        return ("X-Warp10-Token", value)
    return ("Authorization", value)


def secret_forms(token, user: str = DEFAULT_USER):
    """Every way the token can show up in text: clear, base64, in Basic auth."""
    if not token:
        return []
    forms = [token, b64(token.encode()), b64((user + ":" + token).encode())]
    if user != DEFAULT_USER:
        forms.append(b64((DEFAULT_USER + ":" + token).encode()))
    return [f for f in forms if f]


def redact(text, secrets) -> str:
    """``text`` with every secret form replaced by ``***``. Accepts bytes too."""
    if text is None:
        return ""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode()
        except UnicodeError:
            text = repr(bytes(text))
    for s in secrets:
        if s and s in text:
            text = text.replace(s, MASK)
    return text
