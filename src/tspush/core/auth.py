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
    """Every way the token can show up in text: clear, base64, in Basic auth.

    Besides ``base64(user:token)`` for our user and the original's, the part
    of ``base64(ANY + token)`` that depends on the token alone, for each of
    the three alignments: an echo of Basic auth with any user name is caught.
    """
    if not token:
        return []
    raw = token.encode()
    forms = [token, b64(raw), b64((user + ":" + token).encode())]
    if user != DEFAULT_USER:
        forms.append(b64((DEFAULT_USER + ":" + token).encode()))
    for k in (0, 1, 2):
        enc = b64(b"\0" * k + raw)
        core = enc[(8 * k + 5) // 6 : (8 * (k + len(raw))) // 6]
        if len(core) >= 8:
            forms.append(core)
            forms.append(core.replace("+", "-").replace("/", "_"))  # url-safe
    out = []
    for f in forms:
        if f and f not in out:
            out.append(f)
    return out


def redact(text, secrets) -> str:
    """``text`` with every secret form replaced by ``***``. Accepts bytes too.

    A form also matches with any of its characters escaped as JSON writes
    them (``\\/``, ``\\uXXXX``) or percent-encoded (``%2F``): servers echo
    what they were sent in all these ways.
    """
    if text is None:
        return ""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode()
        except UnicodeError:
            text = repr(bytes(text))
    escaped = "\\" in text or "%" in text
    for s in secrets:
        if not s:
            continue
        if s in text:
            text = text.replace(s, MASK)
        if escaped:  # the matcher is loaded only when a text holds an escape
            from tspush.core.echo import mask_escaped

            text = mask_escaped(text, s, MASK)
    return text
