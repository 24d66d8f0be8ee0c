"""What a server's answer means for a batch, and the one loop that gives each point its fate.

Every sender goes through ``deliver``: the agent and the relay (``core.forward``,
from the spool) and ``tspush push`` (``host.push``, from memory). The outside
is one call, ``send(Request) -> Response`` (the host's urllib3 Transport, a
test transport, later the board's connection); it raises TransportError when
no answer came.

* 2xx: the items are delivered.
* 413: halve; an item too large on its own is refused.
* 400/422: the points the server names (``locate``) are refused and the rest
  delivered; when they cannot all be found, halve until each bad point stands alone.
* 401/403, 429/5xx, network, anything else: stop; the caller keeps what is not
  delivered (and backs off: ``core.retry``; a bad token waits ``auth_backoff_s``).
"""

from tspush.core.errors import Rejected, ResponseError, TooLarge, TransportError


class Request:
    """One POST: path (with its query), body, extra headers, how many points it holds."""

    __slots__ = ("path", "body", "headers", "count")

    def __init__(self, path, body, headers=None, count=0):
        self.path = path
        self.body = body
        self.headers = headers
        self.count = count


class Response:
    """What came back: status, headers, body (the host's Reply has the same three)."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, status, headers=None, body=b""):
        self.status = status
        self.headers = headers or {}
        self.body = body


def judge(response, secrets=(), url=""):
    """None for a 2xx, else the ResponseError saying what the answer means (not raised)."""
    if 200 <= response.status < 300:  # the usual case: no need to load core.response (RAM)
        return None
    from tspush.core.response import classify

    try:
        classify(response.status, response.body, response.headers, secrets, url)
    except ResponseError as e:
        return e
    return None


def deliver(
    send,
    items,
    encode,
    path="",
    headers=None,
    max_bytes=0,
    docs=None,
    secrets=(),
    url="",
    note=None,
):
    """Send ``items`` until each is delivered or refused, or an answer says stop.

    ``encode(items) -> body``; ``docs(items)`` gives each item as an OpenTSDB
    dict (metric, value, timestamp, tags) to find the points a 400 names (None:
    bisect); ``note(items, request, response, error)`` sees every request.
    Returns ``(delivered, refused, stop)``: a count, ``(item, reason, error)``
    triples and the error that stopped sending (None when all items have a fate).
    """
    delivered = 0
    refused = []  # type: list
    todo = [items]
    while todo:
        batch = todo.pop()
        if not batch:
            continue
        body = encode(batch)
        if max_bytes and len(body) > max_bytes:
            if len(batch) == 1:
                why = "one point encodes to %d bytes, over max_bytes %d" % (len(body), max_bytes)
                refused.append((batch[0], why, None))
            else:
                _halve(todo, batch)
            continue
        request = Request(path, body, headers, len(batch))
        try:
            response = send(request)
        except TransportError as e:
            if note is not None:
                note(batch, request, None, e)
            return delivered, refused, e
        error = judge(response, secrets, url)
        found = None
        if isinstance(error, Rejected) and docs is not None:
            found = locate(error.failed, docs(batch))
            if found:
                error.failed = found  # indices filled: whoever shows it can name the points
        if note is not None:
            note(batch, request, response, error)
        if error is None:
            delivered += len(batch)
        elif isinstance(error, Rejected):
            if found:
                for i, _, reason in found:
                    refused.append((batch[i], reason or "refused", error))
                delivered += len(batch) - len(found)
            elif len(batch) == 1:
                refused.append((batch[0], _reason(error), error))
            else:
                _halve(todo, batch)
        elif isinstance(error, TooLarge):
            if len(batch) == 1:
                refused.append((batch[0], str(error), error))
            else:
                _halve(todo, batch)
        else:
            return delivered, refused, error
    return delivered, refused, None


def _halve(todo, batch):
    half = len(batch) // 2
    todo.append(batch[half:])
    todo.append(batch[:half])  # popped first: the order of the batch is kept


def _reason(e) -> str:
    if e.failed:
        return "; ".join(f[2] for f in e.failed if f[2]) or str(e)
    return str(e)


def locate(failed, docs):
    """``failed`` with each entry's index in ``docs`` filled; None unless all are found.

    A refused datapoint matches a doc by metric, value, timestamp (when the
    server gives one) and tags (when it gives them); each doc matches once.
    """
    if not failed:
        return None
    used = {}
    out = []
    for _, dp, reason in failed:
        if not isinstance(dp, dict):
            return None
        ts = dp.get("timestamp")
        tags = dp.get("tags")
        for i in range(len(docs)):
            d = docs[i]
            if i in used or d is None:
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
