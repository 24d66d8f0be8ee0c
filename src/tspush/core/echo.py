"""What a server echoes back: our secrets escaped its way, and our request headers.

Loaded only when needed (a text holding an escape, a point dead-lettered),
so a board pays its RAM only then. A token may come back as JSON writes it
(``\\/``, ``\\uXXXX``, surrogate pairs) or percent-encoded (``%2F``); each
character of a secret form is matched clear or escaped.
"""


def mask_escaped(text: str, secret: str, mask: str = "***") -> str:
    """``text`` with ``secret`` masked wherever it appears, any of its characters escaped."""
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
            out.append(mask)
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


def drop_headers(text: str) -> str:
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
