"""DHT11 / DHT22 temperature and humidity (MicroPython's ``dht`` driver)."""

from tspush.device.sensors import fail


class DHT:
    def __init__(self, spec, ctx):
        import dht
        import machine

        self.model = spec.get("model", 22)
        if self.model not in (11, 22):
            raise ValueError("model %r: use 11 or 22" % self.model)
        self.pin = spec.get("pin", 4)
        self.prefix = spec.get("metric", "dht")
        self.name = "DHT%d on pin %s" % (self.model, self.pin)
        cls = dht.DHT22 if self.model == 22 else dht.DHT11
        self.dev = cls(machine.Pin(self.pin))

    def read(self):
        try:
            self.dev.measure()
        except OSError as e:
            raise fail(
                self.name,
                "no answer (%s)" % e,
                "check the data wire and the 10k pull-up resistor to 3.3 V; wait 2 s between reads",
            )
        except Exception as e:  # the driver's "checksum error": a garbled answer
            raise fail(
                self.name,
                "bad reading (%s)" % e,
                "check the data wire's length and contacts, the pull-up and the 3.3 V supply",
            )
        return [
            (self.prefix + ".temperature_c", self.dev.temperature()),
            (self.prefix + ".humidity_pct", self.dev.humidity()),
        ]
