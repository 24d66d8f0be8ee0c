"""Shim of MicroPython's ``ntptime``: counts calls; ``state["fail"]`` makes it time out."""

host = "pool.ntp.org"
state = {"fail": False, "calls": 0}


def settime():
    state["calls"] += 1
    if state["fail"]:
        raise OSError(110)
