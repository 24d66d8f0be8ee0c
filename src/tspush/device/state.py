"""A few numbers that must survive deep sleep: RTC memory where the port has it, else a file.

RTC memory is 492 bytes on ESP8266 and is lost on power-off, which is fine:
the readings themselves are in the flash spool; only counters live here.
"""

import json

FILE = "state.json"


def _rtc():
    try:
        import machine

        rtc = machine.RTC()
        rtc.memory()
        return rtc
    except (ImportError, AttributeError, OSError, TypeError):
        return None


def load():
    rtc = _rtc()
    try:
        if rtc is not None:
            data = rtc.memory()
        else:
            f = open(FILE, "rb")
            try:
                data = f.read()
            finally:
                f.close()
        d = json.loads(data) if data else {}
        return d if isinstance(d, dict) else {}
    except (OSError, ValueError):
        return {}


def save(d):
    data = json.dumps(d).encode()
    rtc = _rtc()
    if rtc is not None and len(data) <= 480:
        rtc.memory(data)
        return
    f = open(FILE, "wb")
    try:
        f.write(data)
    finally:
        f.close()
