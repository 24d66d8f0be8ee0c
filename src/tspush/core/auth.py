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
        if escaped:
            text = _mask_escaped(text, s)
    return text


def _mask_escaped(text: str, secret: str) -> str:
    marks = _starts(secret[0])
    out = []
    last = 0
    i = 0
    nxt = [-2] * len(marks)  # next position of each mark at or after i (-1: none left)
    while True:
        j = -1
        for m in range(len(marks)):
            if nxt[m] != -1 and nxt[m] < i:
                nxt[m] = text.find(marks[m], i)
            if nxt[m] >= 0 and (j < 0 or nxt[m] < j):
                j = nxt[m]
        if j < 0:
            break
        end = _match(text, j, secret)
        if end > j:
            out.append(text[last:j])
            out.append(MASK)
            last = i = end
        else:
            i = j + 1
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


def _starts(c: str):
    """Every way the character ``c`` can begin an escaped occurrence (hex in any case)."""
    code = ord(c)
    if code >= 0x10000:
        code = 0xD800 + ((code - 0x10000) >> 10)
    out = [c]
    if c in '"\\/':
        out.append("\\" + c)
    out += ["\\u" + h for h in _cases("%04x" % code)]
    out += ["%" + h for h in _cases("%02x" % c.encode()[0])]
    return out


def _cases(h: str):
    out = [""]
    for ch in h:
        out = (
            [o + x for o in out for x in (ch, ch.upper())]
            if ch.isalpha()
            else [o + ch for o in out]
        )
    return out


def _match(text: str, i: int, secret: str) -> int:
    """End of ``secret`` at ``text[i:]``, each character clear or escaped; -1 if absent."""
    for c in secret:
        t = text[i : i + 1]
        if t == c:
            i += 1
        elif t == "\\":
            if text[i + 1 : i + 2] == c and c in '"\\/':
                i += 2
                continue
            code = ord(c)
            units = (
                [code]
                if code < 0x10000
                else [0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)]
            )
            for u in units:
                if text[i : i + 2] not in ("\\u", "\\U") or _hex(text[i + 2 : i + 6], 4) != u:
                    return -1
                i += 6
        elif t == "%":
            for b in c.encode():
                if text[i : i + 1] != "%" or _hex(text[i + 1 : i + 3], 2) != b:
                    return -1
                i += 3
        else:
            return -1
    return i


def _hex(s: str, n: int) -> int:
    if len(s) != n:
        return -1
    for ch in s:
        if ch not in "0123456789abcdefABCDEF":
            return -1
    return int(s, 16)


_ECHOED = ("authorization", "x-warp10-token", "cookie", "basic ", "bearer ")


def drop_echo(text: str) -> str:
    """``text`` cut where a server starts repeating our request headers.

    For what is kept on disk (the dead-letter file): a server's echo of the
    Authorization header has no place there, escaped or not.
    """
    low = text.lower()
    cut = -1
    for w in _ECHOED:
        j = low.find(w)
        if j >= 0 and (cut < 0 or j < cut):
            cut = j
    if cut < 0:
        return text
    return text[:cut] + "[the server echoed our request headers: not kept]"
