"""The one exception hierarchy of tspush, shared by the board and the computer.

    TspushError                 anything tspush raises on purpose
    +-- ConfigError             a config key is wrong (names key and file)
    +-- PointError              a data point breaks a rule (names point and rule)
    +-- SpoolError              the on-disk/flash spool cannot be used
    +-- TransportError          no HTTP response was obtained
    |   +-- DNSError            the host name did not resolve
    |   +-- ConnectError        TCP connect refused or unreachable
    |   +-- Timeout             connect or read took too long
    |   +-- TLSError            TLS handshake or certificate verification failed
    |   |   +-- PinMismatch     the certificate is not the pinned one
    |   +-- ProtocolError       the server's answer is not valid HTTP
    +-- ResponseError           the server answered, but not with 2xx
        +-- Rejected            400/422: some or all points refused
        +-- AuthError           401/403: the token was refused
        +-- TooLarge            413: the body was too big
        +-- Retryable           429/5xx: try again later

Foreign exceptions (OSError, ssl errors) are mapped to these once, at the
transport edge. The cause is kept as ``.cause`` (MicroPython has no
``raise ... from``). Messages never contain a token: callers pass text
through ``auth.redact`` before it can reach a message.
"""


class TspushError(Exception):
    """Base class. ``str(e)`` is a sentence a person can act on."""

    exit_code = 1

    def __init__(self, message: str, cause=None):
        super().__init__(message)
        self.message = message
        self.cause = cause

    def __str__(self) -> str:
        return self.message


class ConfigError(TspushError):
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
    exit_code = 2

    def __init__(self, message: str, rule: str = "", point=None):
        super().__init__(message)
        self.rule = rule
        self.point = point


class SpoolError(TspushError):
    exit_code = 7
    stored = 0  # a failed append: how many of its first points were stored
    lost = 0  # and how many were not (set by the caller that knows)


class TransportError(TspushError):
    exit_code = 5
    reason = "network"


class DNSError(TransportError):
    reason = "dns"


class ConnectError(TransportError):
    reason = "connect"


class Timeout(TransportError):
    reason = "timeout"


class TLSError(TransportError):
    exit_code = 4
    reason = "tls"


class PinMismatch(TLSError):
    reason = "pin-mismatch"


class ProtocolError(TransportError):
    reason = "protocol"


class ResponseError(TspushError):
    exit_code = 6
    reason = "server"

    def __init__(self, message: str, status: int = 0, body: str = "", retry_after_s=None):
        super().__init__(message)
        self.status = status
        self.body = body
        self.retry_after_s = retry_after_s


class Rejected(ResponseError):
    """Some points were refused. ``failed`` holds (index_or_None, point_dict, reason)."""

    reason = "rejected"

    def __init__(self, message: str, status: int = 400, body: str = "", failed=None, success=None):
        super().__init__(message, status, body)
        self.failed = failed or []
        self.success = success


class AuthError(ResponseError):
    exit_code = 3
    reason = "token-rejected"


class TooLarge(ResponseError):
    reason = "too-large"


class Retryable(ResponseError):
    reason = "retryable"
