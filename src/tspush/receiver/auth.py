"""Who may write and who may read: tokens checked in constant time.

The original board sends ``basic base64("DESC:" + TOKEN)`` (lower-case
scheme, any user name): the password is the token. ``Bearer TOKEN`` works
too; the header is read by ``tspush.ingest.tokens``, shared with the agent's
http_listener. The dashboard, opened once as ``/?token=READ_TOKEN``, gets an
HttpOnly cookie holding an HMAC of the read token (never the token itself).
"""

from __future__ import annotations

import hmac

from starlette.requests import Request

from tspush.ingest.tokens import digest, same, token_in

COOKIE = "tspush_read"


def presented_token(request: Request) -> bytes | None:
    """The token in the Authorization header (Basic password, Bearer or Token), if any."""
    return token_in(request.headers.get("authorization"))


class Tokens:
    """The write token (for /api/put) and the read token (queries, dashboard)."""

    def __init__(
        self,
        write_token: str | None,
        read_token: str | None,
        no_auth: bool = False,
        open_read: bool = False,
    ) -> None:
        self.no_auth = no_auth
        self.open_read = open_read  # reads need no token (the loopback-only demo)
        self._write = digest(write_token) if write_token else None
        self._read = digest(read_token) if read_token else None
        self._cookie = (
            hmac.new(digest(read_token), b"tspush-dashboard-cookie", "sha256").hexdigest()
            if read_token
            else None
        )

    def _ok(self, want: bytes | None, given: str | bytes | None) -> bool:
        return self.no_auth or same(want, given)

    def can_write(self, request: Request) -> bool:
        return self._ok(self._write, presented_token(request))

    def can_read(self, request: Request) -> bool:
        if self.no_auth or self.open_read:
            return True
        if self._ok(self._read, presented_token(request)):
            return True
        cookie = request.cookies.get(COOKIE)
        return bool(cookie and self._cookie and hmac.compare_digest(cookie, self._cookie))

    def read_token_ok(self, token: str | None) -> bool:
        return self._ok(self._read, token)

    def cookie_value(self) -> str | None:
        return self._cookie
