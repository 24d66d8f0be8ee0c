"""The ``machine`` shim's pins, ADC, I2C, watchdog, resets and test helpers (see machine.py)."""

import time

from machine import state


def reset_state(**kw):
    state.clear()
    state.update(
        {
            "adc": {},
            "i2c": {},
            "rtc": b"",
            "wdt": [],
            "deepsleep": [],
            "resets": 0,
            "reset_cause": 1,
            "rtc_off_ms": 0,
        }
    )
    state.update(kw)


def rtc_ms():
    return time.time_ns() // 1000000 - state["rtc_off_ms"]


def power_on():
    """The RTC starts again from the epoch and its memory is empty, as after a power cut."""
    state["rtc_off_ms"] = time.time_ns() // 1000000
    state["rtc"] = b""


def set_rtc(t):
    """``RTC().datetime(t)``: days from 1970-01-01 to the civil date (proleptic Gregorian)."""
    y, m, d = t[0], t[1], t[2]
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    s = days * 86400 + t[4] * 3600 + t[5] * 60 + t[6]
    state["rtc_off_ms"] = time.time_ns() // 1000000 - s * 1000


class Pin:
    IN = 0
    OUT = 1

    def __init__(self, pin, mode=-1, pull=-1):
        self.pin = pin


class ADC:
    def __init__(self, pin):
        self.pin = pin

    def read(self):
        v = state["adc"].get(self.pin)
        if v is None:
            raise OSError(19)
        return v

    def read_u16(self):
        return self.read() * 64


class I2C:
    """Devices are dicts register -> byte in ``state["i2c"][address]``."""

    def __init__(self, *args, **kw):
        pass

    def _dev(self, addr):
        dev = state["i2c"].get(addr)
        if dev is None:
            raise OSError(19)  # ENODEV: nothing answers at this address
        return dev

    def readfrom_mem(self, addr, reg, n):
        dev = self._dev(addr)
        return bytes(dev.get(reg + i, 0) for i in range(n))

    def writeto_mem(self, addr, reg, data):
        dev = self._dev(addr)
        for i in range(len(data)):
            dev[reg + i] = data[i]


SoftI2C = I2C


class WDT:
    def __init__(self, timeout=5000):
        state["wdt"].append(("start", timeout))

    def feed(self):
        state["wdt"].append("feed")


def deepsleep(ms=0):
    state["deepsleep"].append(ms)
    raise SystemExit("deepsleep %d" % ms)


def reset():
    state["resets"] += 1
    raise SystemExit("reset")


def idle():
    time.sleep(0.001) if hasattr(time, "sleep") else None
