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

ConfigError, PointError and the leaf classes (DNSError ... Retryable) live in
``core/errorkinds.py`` and
are made at first use through this module's ``__getattr__``: a board whose
pushes succeed never builds them (each class costs an ESP8266 about 180
bytes). Import them from here as always: ``from tspush.core.errors import
DNSError``. Board code that may raise them reaches them as ``errors.X`` at the
raise (an ``except errors.X`` clause is evaluated only when something is raised).
Type checkers see them through ``__getattr__`` too, untyped: a typed import
block would intern their names on the board.

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


class SpoolError(TspushError):
    exit_code = 7
    stored = 0  # a failed append: how many of its first points were stored
    lost = 0  # and how many were not (set by the caller that knows)


class TransportError(TspushError):
    exit_code = 5
    reason = "network"


class ResponseError(TspushError):
    exit_code = 6
    reason = "server"

    def __init__(self, message: str, status: int = 0, body: str = "", retry_after_s=None):
        super().__init__(message)
        self.status = status
        self.body = body
        self.retry_after_s = retry_after_s


def need(what):
    """``need("tspush.core.response classify")``: that function, imported now.

    A lazy import written as one string interns no name until it runs (a short
    name in an import statement is interned when its module is loaded), and a
    relay board never runs most of them (each distinct name costs RAM there).
    """
    mod, name = what.split(" ")
    return getattr(__import__(mod, None, None, (name,)), name)


def words(code, args=()):
    """Line ``code`` of ``core/says.py`` with ``args``; with a full heap, number and ``args``.

    Rare messages live there, read from flash when needed: each string constant of a
    module loaded from ROMFS holds heap on a board while the module is loaded.
    """
    try:
        t = getattr(__import__("tspush.core.says", None, None, ("text",)), "text")(code)
    except MemoryError:  # the number, and the arguments when they fit
        t = str(code)
        try:
            return t if args == () else t + " " + str(args)
        except MemoryError:
            return t
    try:
        return t % args
    except MemoryError:
        return t


def __getattr__(name):
    """``ConfigError``, ``PointError`` or a leaf class, made at first use."""
    from tspush.core import errorkinds

    cls = getattr(errorkinds, name, None)
    if not (isinstance(cls, type) and issubclass(cls, TspushError)):
        raise AttributeError(name)
    globals()[name] = cls
    return cls
