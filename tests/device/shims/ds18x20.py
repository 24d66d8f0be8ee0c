"""Shim of MicroPython's ``ds18x20``: thermometers are ``state["roms"]`` -> temperature.

``state["fail"]``: ``"crc"`` raises the driver's plain ``Exception("CRC error")``,
``"gone"`` the ``onewire.OneWireError`` of a sensor that stopped answering.
"""

state = {"roms": {b"\x28\x01\x02\x03\x04\x05\x06\x07": 19.25}, "converted": 0, "fail": None}


class DS18X20:
    def __init__(self, ow):
        self.ow = ow

    def scan(self):
        return list(state["roms"])

    def convert_temp(self):
        state["converted"] += 1

    def read_temp(self, rom):
        if state["fail"] == "crc":
            raise Exception("CRC error")
        if state["fail"] == "gone":
            import onewire

            raise onewire.OneWireError()
        if rom not in state["roms"]:
            raise OSError(5)
        return state["roms"][rom]
