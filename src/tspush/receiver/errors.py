"""The receiver's HTTP errors: ``ApiError``, kept in ``tspush.ingest.errors``.

It is shared with the agent's ``http_listener``, which answers the same way.
"""

from __future__ import annotations

from tspush.ingest.errors import ApiError

__all__ = ["ApiError"]
