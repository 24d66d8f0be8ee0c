"""Helpers for tests that run under both pytest and the MicroPython unix port.

Board-side tests are plain ``test_*`` functions using ``assert``; this module
gives them what pytest would (``raises``) without importing pytest.
"""


def raises(exc_type, fn, *args, **kwargs):
    """Call ``fn`` and return the exception of ``exc_type`` it raised; fail if none."""
    try:
        fn(*args, **kwargs)
    except exc_type as e:
        return e
    raise AssertionError("%s did not raise %s" % (getattr(fn, "__name__", fn), exc_type.__name__))
