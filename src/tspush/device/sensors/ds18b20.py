"""DS18B20 1-Wire thermometers; several on one pin, told apart by a ``rom`` tag."""

from tspush.core.errors import TspushError
from tspush.device.sensors import fail

CONVERT_MS = 750


class DS18B20:
    def __init__(self, spec, ctx):
        import ds18x20
        import machine
        import onewire

        self.pin = spec.get("pin", 5)
        self.metric = spec.get("metric", "ds18b20.temperature_c")
        self.name = "DS18B20 on pin %s" % self.pin
        self.dev = ds18x20.DS18X20(onewire.OneWire(machine.Pin(self.pin)))
        self.roms = []

    def read(self):
        import binascii

        from tspush.device import ticks

        try:
            if not self.roms:
                self.roms = self.dev.scan()
            if not self.roms:
                raise fail(
                    self.name, "no thermometer found", "check the wiring and the 4.7k pull-up"
                )
            self.dev.convert_temp()
            ticks.sleep_ms(CONVERT_MS)
            out = []
            for rom in self.roms:
                t = self.dev.read_temp(rom)
                if t is None or t == 85.0:  # 85.0: power-on value, the conversion did not run
                    raise fail(self.name, "reading %r is not valid" % t, "check the power wire")
                out.append((self.metric, t, {"rom": binascii.hexlify(bytes(rom)).decode()}))
            return out
        except TspushError:
            raise
        except Exception as e:  # OSError, onewire.OneWireError, the driver's "CRC error"
            self.roms = []
            raise fail(
                self.name,
                "bus error (%s: %s)" % (type(e).__name__, e),
                "check the wiring, the 4.7k pull-up and the 3.3 V supply",
            )
