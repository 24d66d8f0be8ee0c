"""The ``tspush`` command line (CPython only)."""
