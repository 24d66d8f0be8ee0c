"""A refused request as OpenTSDB's error object.

``ApiError`` is a TspushError (the project's one hierarchy) that carries the
status code; a server turns it into
``{"error": {"code": N, "message": "...", "details": "..."}}``, the shape
OpenTSDB clients and Grafana parse.
"""

from __future__ import annotations

from typing import Any

from tspush.core.errors import TspushError


class ApiError(TspushError):
    """A request a server refuses, with the HTTP status to answer."""

    def __init__(
        self, status: int, message: str, details: str = "", retry_after_s: int | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.details = details
        self.retry_after_s = retry_after_s

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.status, "message": self.message}
        if self.details:
            err["details"] = self.details
        return {"error": err}
