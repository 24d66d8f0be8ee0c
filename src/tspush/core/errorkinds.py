"""ConfigError, PointError and the leaf classes of ``core.errors``, made at first use.

Import them from ``tspush.core.errors``: its ``__getattr__`` loads this module
the first time one is asked for, so a board that never meets a failure never
builds these classes (RAM on an ESP8266).
"""

from tspush.core.errors import ResponseError, TransportError, TspushError


class ConfigError(TspushError):
    __module__ = "tspush.core.errors"
    exit_code = 2

    def __init__(self, message: str, key: str = "", source: str = ""):
        where = ""
        if key and source:
            where = "%s: %s: " % (source, key)
        elif key:
            where = "%s: " % key
        elif source:
            where = "%s: " % source
        super().__init__(where + message)
        self.key = key
        self.source = source


class PointError(TspushError):
    __module__ = "tspush.core.errors"
    exit_code = 2

    def __init__(self, message: str, rule: str = "", point=None):
        super().__init__(message)
        self.rule = rule
        self.point = point


class DNSError(TransportError):
    __module__ = "tspush.core.errors"
    reason = "dns"


class ConnectError(TransportError):
    __module__ = "tspush.core.errors"
    reason = "connect"


class Timeout(TransportError):
    __module__ = "tspush.core.errors"
    reason = "timeout"


class TLSError(TransportError):
    __module__ = "tspush.core.errors"
    exit_code = 4
    reason = "tls"


class PinMismatch(TLSError):
    __module__ = "tspush.core.errors"
    reason = "pin-mismatch"


class ProtocolError(TransportError):
    __module__ = "tspush.core.errors"
    reason = "protocol"


class Rejected(ResponseError):
    """Some points were refused. ``failed`` holds (index_or_None, point_dict, reason)."""

    __module__ = "tspush.core.errors"
    reason = "rejected"

    def __init__(self, message: str, status: int = 400, body: str = "", failed=None, success=None):
        super().__init__(message, status, body)
        self.failed = failed or []
        self.success = success


class AuthError(ResponseError):
    __module__ = "tspush.core.errors"
    exit_code = 3
    reason = "token-rejected"


class TooLarge(ResponseError):
    __module__ = "tspush.core.errors"
    reason = "too-large"


class Retryable(ResponseError):
    __module__ = "tspush.core.errors"
    reason = "retryable"
