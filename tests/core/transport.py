"""The test transport's answer: the board's response type, as ``send(Request)`` returns it."""

from tspush.core.httpread import Response as _Response


def Response(status, headers=None, body=b""):  # noqa: N802  (reads as the type it makes)
    """``Response(204)``, ``Response(400, {}, b"...")``: status, headers, body."""
    return _Response(status, "", headers or {}, body, False)
