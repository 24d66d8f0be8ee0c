"""What a server's answer means for a batch, and the one loop that gives each point its fate.

Every sender goes through ``deliver``: the agent and the relay (``core.forward``,
from the spool), ``tspush push`` (``host.push``, from memory) and the board
(``device.push``, from its spool or RAM). The outside is one call,
``send(Request) -> response`` with ``status``, ``headers``, ``body`` (the
host's urllib3 Transport, the board's connection, a test transport); it raises
TransportError when no answer came (the board's send maps running out of
memory to one, reason ``out-of-memory``).

* 2xx: the items are delivered.
* 413: halve (``core.response.smaller`` gives the batch size to use from then
  on); an item too large on its own is refused.
* 400/422: the points the server names (``locate``) are refused and the rest
  delivered; when they cannot all be found, halve until each bad point stands alone.
* 401/403, 429/5xx, network, anything else: stop; the caller keeps what is not
  delivered and backs off (``Retry.increment()`` then ``wait_s(error=e)``: a
  bad token waits ``auth_backoff_s``, ``Retry-After`` wins).

What an answer means (``judge``: None for a 2xx, else the ResponseError) and the
rare branches (``refusal``, ``locate``, ``smaller``) live in ``core.response``,
loaded only when an answer is not a 2xx: the board's usual push carries less code.
"""

from tspush.core import errors


class Request:
    """One POST: path (with its query), body, extra headers, how many points it holds."""

    def __init__(self, path, body, headers=None, count=0):
        self.path = path
        self.body = body
        self.headers = headers
        self.count = count


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
    dict or JSON record, to find the points a 400 names (None: bisect);
    ``note(items, request, response, error)`` sees every request.
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
        out = None
        if max_bytes and len(body) > max_bytes:
            error = None
            if len(batch) == 1:
                # "one point encodes to %d bytes, over max_bytes %d" (core/says.py: no string
                # constant of this module holds RAM on the board)
                out = [(batch[0], errors.words(45, (len(body), max_bytes)), None)]
        else:
            request = Request(path, body, headers, len(batch))
            try:
                response = send(request)
            except errors.TransportError as e:
                if note is not None:
                    note(batch, request, None, e)
                return delivered, refused, e
            error = None
            if not 200 <= response.status < 300:  # the usual case: core.response stays unloaded
                error = errors.need("tspush.core.response judge")(response, secrets, url)
            if error is not None:
                out = errors.need("tspush.core.response refusal")(error, batch, docs)
            if note is not None:
                note(batch, request, response, error)
            if error is None:
                delivered += len(batch)
                continue
            if out is False:
                return delivered, refused, error
        if out is None:
            half = len(batch) // 2
            todo.append(batch[half:])
            todo.append(batch[:half])  # popped first: the order of the batch is kept
        else:
            refused.extend(out)
            delivered += len(batch) - len(out)
    return delivered, refused, None


def bury(spool, output, dead, path=None):
    """Write refused points to ``output``'s dead-letter file: ``(count, first reason)``.

    ``dead``: ``(record, reason)`` pairs. A server's echo of our request
    headers is cut from each reason first: it is no reason to keep on disk
    (and may hold the token). The one place the agent, the relay and the board
    save what a server or the rules refused; the caller acks the batch after.
    """
    from tspush.core.echo import drop_headers

    dead = [(r, drop_headers(why)) for r, why in dead]
    return spool.dead_letter(output, dead, path), dead[0][1]
