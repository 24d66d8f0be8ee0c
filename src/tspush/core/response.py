"""What a server's answer to ``/api/put`` means, shared by every transport.

2xx: accepted. 400/422: some points refused; the OpenTSDB error object
``{"error":{"code","message","details"}}`` or the ``?details`` summary
``{"success","failed","errors":[{"datapoint","error"}]}`` says which.
401/403: token refused (keep the data). 413: too large (split).
429/5xx: retry later, honouring ``Retry-After``. Anything else: refused.

Bodies are redacted before they reach a message: vmauth echoes the
Authorization header back on a bad token.
"""

from tspush.core.auth import redact
from tspush.core.errors import AuthError, Rejected, ResponseError, Retryable, TooLarge

MAX_BODY_IN_MESSAGE = 300


def retry_after_s(value):
    """Seconds from a ``Retry-After`` header (delta-seconds form; dates give None)."""
    if value is None:
        return None
    try:
        n = int(str(value).strip())
    except ValueError:
        return None
    return n if n >= 0 else None


def _short(body: str) -> str:
    body = body.strip()
    if len(body) > MAX_BODY_IN_MESSAGE:
        return body[:MAX_BODY_IN_MESSAGE] + "..."
    return body


def parse_details(body: str):
    """``(success, failed_list)`` from an OpenTSDB error/details body, or (None, [])."""
    import json

    try:
        doc = json.loads(body)
    except (ValueError, TypeError):
        return None, []
    if not isinstance(doc, dict):
        return None, []
    if "error" in doc and isinstance(doc["error"], dict):
        err = doc["error"]
        details = err.get("details")
        if isinstance(details, dict):
            doc = details
        else:
            msg = err.get("message") or ""
            if details:
                msg = "%s: %s" % (msg, details)
            return None, [(None, None, str(msg))]
    failed = []
    for item in doc.get("errors") or []:
        if isinstance(item, dict):
            failed.append((None, item.get("datapoint"), str(item.get("error", ""))))
    success = doc.get("success")
    return (success if isinstance(success, int) else None), failed


def classify(status: int, body, headers=None, secrets=(), url: str = ""):
    """Return None for 2xx; otherwise raise the matching ResponseError."""
    if 200 <= status < 300:
        return None
    headers = headers or {}
    text = redact(body, secrets)
    where = (" from " + url) if url else ""
    # vmauth before 1.80 refuses an unknown token with a 400, not a 401
    auth_refused = status in (401, 403) or (status == 400 and _is_auth_refusal(text))
    if status in (400, 422) and not auth_refused:
        success, failed = parse_details(text)
        if failed:
            reasons = "; ".join(f[2] for f in failed[:3])
            more = " (and %d more)" % (len(failed) - 3) if len(failed) > 3 else ""
            msg = "HTTP %d%s: %d point(s) refused: %s%s" % (
                status,
                where,
                len(failed),
                reasons,
                more,
            )
        else:
            msg = "HTTP %d%s: points refused: %s" % (
                status,
                where,
                _short(text) or "no reason given",
            )
        raise Rejected(msg, status, text, failed, success)
    if auth_refused:
        raise AuthError(
            "HTTP %d%s: the token was rejected; check the write token: %s"
            % (status, where, _short(text)),
            status,
            text,
        )
    if status == 413:
        raise TooLarge(
            "HTTP 413%s: request body too large; lower max_bytes or max_points" % where,
            status,
            text,
        )
    if status == 429 or status >= 500:
        ra = retry_after_s(_header(headers, "retry-after"))
        msg = "HTTP %d%s: server busy or failing, will retry" % (status, where)
        if ra is not None:
            msg += " (Retry-After: %ds)" % ra
        body_s = _short(text)
        if body_s:
            msg += ": " + body_s
        raise Retryable(msg, status, text, ra)
    raise ResponseError(
        "HTTP %d%s: unexpected answer: %s; check the URL path and the profile for this server"
        % (status, where, _short(text)),
        status,
        text,
    )


# what auth proxies answer with a plain 400 when the token is wrong
_AUTH_REFUSALS = ("cannot find the provided auth token", "missing `Authorization`")


def _is_auth_refusal(text: str) -> bool:
    for phrase in _AUTH_REFUSALS:
        if phrase in text:
            return True
    return False


def judge(response, secrets=(), url=""):
    """None for a 2xx, else the ResponseError saying what ``response`` (status, headers,
    body) means: ``classify``'s, returned instead of raised."""
    try:
        classify(response.status, response.body, response.headers, secrets, url)
    except ResponseError as e:
        return e
    return None


def smaller(error, n):
    """The batch size to use from now on after ``error`` on ``n`` points: half after a 413,
    else 0 (keep the size)."""
    if n > 1 and error.reason == "too-large":
        return n // 2
    return 0


def refusal(error, batch, docs=None):
    """What a 400 or 413 does to ``batch``: refused ``(item, reason, error)`` triples, or None
    to halve it; False for any other answer (stop).

    ``docs(batch)`` (OpenTSDB dicts or JSON records) lets a 400 that names its
    points refuse only those (``error.failed`` gets their indices); a single
    item is refused whole.
    """
    if isinstance(error, Rejected):
        found = locate(error.failed, docs(batch)) if docs is not None else None
        if found:
            error.failed = found  # indices filled: whoever shows it can name the points
            return [(batch[i], reason or "refused", error) for i, _, reason in found]
        if len(batch) == 1:
            why = "; ".join(f[2] for f in error.failed if f[2]) if error.failed else ""
            return [(batch[0], why or str(error), error)]
        return None
    if isinstance(error, TooLarge):
        return [(batch[0], str(error), error)] if len(batch) == 1 else None
    return False


def locate(failed, docs):
    """``failed`` with each entry's index in ``docs`` filled; None unless all are found.

    A refused datapoint matches a doc (a dict, or a JSON record decoded here)
    by metric, value, timestamp (when the server gives one) and tags (when it
    gives them); each doc matches once.
    """
    import json

    if not failed:
        return None
    docs = list(docs)
    for i in range(len(docs)):
        if not isinstance(docs[i], dict):
            try:
                docs[i] = json.loads(docs[i])
            except ValueError:
                docs[i] = None
    used = {}
    out = []
    for _, dp, reason in failed:
        if not isinstance(dp, dict):
            return None
        ts = dp.get("timestamp")
        tags = dp.get("tags")
        for i in range(len(docs)):
            d = docs[i]
            if i in used or not isinstance(d, dict):
                continue
            if (
                d.get("metric") == dp.get("metric")
                and str(d.get("value")) == str(dp.get("value"))
                and (ts is None or str(d.get("timestamp")) == str(ts))
                and (not tags or d.get("tags") == tags)
            ):
                used[i] = True
                out.append((i, dp, reason))
                break
        else:
            return None
    return out


def _header(headers, name: str):
    v = headers.get(name)
    if v is None:
        for k in headers:
            if k.lower() == name:
                return headers[k]
    return v
