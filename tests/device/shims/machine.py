"""Shim of MicroPython's ``machine`` for tests: the RTC and reset causes; the rest on first use.

The RTC is the host's clock minus ``state["rtc_off_ms"]`` (0: set; a power-on
makes it start again near 0, i.e. "not set"); ``RTC.datetime`` sets it.

On a board ``machine`` is C in the firmware and holds no heap; here it sits in
the image whose heap ``bench/bench_board.py`` measures. So this part holds only
what every boot touches (reset cause, RTC memory, chip id); pins, ADC, I2C, the
watchdog, deep sleep, resets and the tests' helpers (``reset_state``,
``power_on``, ``rtc_ms``) are in ``machine_more``, loaded by ``__getattr__`` at
their first use. Both behave as before the split.
"""

state = {
    "adc": {},
    "i2c": {},
    "rtc": b"",
    "wdt": [],
    "deepsleep": [],
    "resets": 0,
    "reset_cause": 1,
    "rtc_off_ms": 0,
}

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5


class RTC:
    def datetime(self, t):
        __getattr__("set_rtc")(t)

    def memory(self, data=None):
        if data is None:
            return state["rtc"]
        state["rtc"] = bytes(data)


def unique_id():
    return b"\x12\x34\x56\xab\xcd\xef"


def reset_cause():
    return state["reset_cause"]


def __getattr__(name):
    import machine_more

    return getattr(machine_more, name)
