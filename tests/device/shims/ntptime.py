"""Shim of MicroPython's ``ntptime``: counts calls; ``state["fail"]`` makes it time out.

Otherwise ``settime()`` sets the emulated RTC (``machine.rtc_ms``) to the true time,
or calls ``state["then"]`` when a test keeps its own clock.
"""

host = "pool.ntp.org"
state = {"fail": False, "calls": 0, "fail_until": 0}  # fail_until: host Unix seconds


def settime():
    import time

    state["calls"] += 1
    if state["fail"] or time.time() < state["fail_until"]:
        raise OSError(110)
    then = state.get("then")
    if then is not None:
        then()
        return
    import machine

    machine.state["rtc_off_ms"] = 0
