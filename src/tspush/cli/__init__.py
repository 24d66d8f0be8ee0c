"""The ``tspush`` command line (CPython only)."""

# Shown by `tspush --help` and `tspush push --help`.
EXIT_CODES = """Exit codes: 0 ok; 1 unexpected error; 2 bad usage, config or point; 3 the
token was refused (401/403); 4 TLS: certificate not trusted or pin mismatch; 5
network: DNS, refused, timeout; 6 the server refused points or answered 413/429/5xx;
7 the spool is in use by another tspush process, or its directory unusable;
130 interrupted."""
