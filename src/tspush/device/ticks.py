"""Monotonic milliseconds on MicroPython (``time.ticks_*``) and on CPython, for tests."""

import time

try:
    ticks_ms = getattr(time, "ticks_ms")
    ticks_diff = getattr(time, "ticks_diff")
    ticks_add = getattr(time, "ticks_add")
    sleep_ms = getattr(time, "sleep_ms")
except AttributeError:  # CPython: the same API over monotonic time

    def ticks_ms():
        return int(time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b

    def ticks_add(a, b):
        return a + b

    def sleep_ms(ms):
        time.sleep(ms / 1000)


def print_exception(e):
    import sys

    f = getattr(sys, "print_exception", None)
    if f is not None:
        f(e)
    else:
        import traceback

        traceback.print_exception(e)
