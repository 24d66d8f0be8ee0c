"""Monotonic milliseconds, the RTC, and which port this is: the one place tests change.

``port`` decides every port-specific path (ESP8266 watchdog limit, axTLS
guard, RSSI sentinel); a test sets ``ticks.port = "esp8266"`` to run them.
``rtc_ms`` reads the RTC, which on ESP8266 and ESP32 keeps counting through
deep sleep and soft resets (and starts again from 2000 at power-on); the
board emulation replaces it.
"""

import sys
import time

from tspush.core.errors import need  # noqa: F401  (ticks.need: the board's lazy imports)

port = sys.platform

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


def rtc_ms():
    """The RTC in ms since the port's epoch (``time.time()``'s count)."""
    ns = getattr(time, "time_ns", None)
    return ns() // 1000000 if ns is not None else int(time.time() * 1000)


def print_exception(e):
    f = getattr(sys, "print_exception", None)
    if f is not None:
        f(e)
    else:
        import traceback

        traceback.print_exception(e)
