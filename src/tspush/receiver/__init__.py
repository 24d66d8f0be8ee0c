"""``tspush serve``: an OpenTSDB-compatible receiver on SQLite, with a dashboard.

CPython only. ``create_app`` builds the ASGI app; ``tspush.cli.serve`` runs it.
"""

from __future__ import annotations

from typing import Any


def create_app(**kw: Any) -> Any:
    """See ``tspush.receiver.app.create_app`` (imported lazily: Starlette is heavy)."""
    from tspush.receiver.app import create_app as _create_app

    return _create_app(**kw)


__all__ = ["create_app"]
