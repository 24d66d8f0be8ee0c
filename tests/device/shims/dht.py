"""Shim of MicroPython's ``dht``: readings from ``state``.

``state["fail"]``: True times out (OSError, as the driver does when nothing
answers); ``"checksum"`` raises the driver's plain ``Exception("checksum error")``.
"""

state = {"fail": False, "t": 21.5, "h": 40.2}


class DHTBase:
    def __init__(self, pin):
        self.pin = pin
        self._t = None
        self._h = None

    def measure(self):
        state["reads"] = state.get("reads", 0) + 1
        if state["fail"] == "checksum":
            raise Exception("checksum error")
        if state["fail"]:
            raise OSError(110)
        self._t = state["t"]
        self._h = state["h"]

    def temperature(self):
        return self._t

    def humidity(self):
        return self._h


class DHT11(DHTBase):
    pass


class DHT22(DHTBase):
    pass
