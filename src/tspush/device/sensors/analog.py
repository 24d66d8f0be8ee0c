"""An ADC pin. Default: the original's variant, ``A0 = raw // 10`` on pin 0.

With ``scale`` (and ``offset``) the value is ``raw * scale + offset``, e.g.
volts from a divider. ``"range": "u16"`` reads 0..65535 on any port;
the default reads the port's native range (0..1023 on ESP8266, as Arduino).
"""

from tspush.device.sensors import fail


class Analog:
    def __init__(self, spec, ctx):
        import machine

        self.pin = spec.get("pin", 0)
        self.metric = spec.get("metric", "A0")
        self.scale = spec.get("scale")
        self.offset = spec.get("offset", 0)
        self.divisor = spec.get("divisor", 10)
        self.u16 = spec.get("range") == "u16"
        self.name = "analog pin %s" % self.pin
        self.adc = machine.ADC(self.pin)

    def raw(self):
        if not self.u16 and hasattr(self.adc, "read"):
            return self.adc.read()
        return self.adc.read_u16()

    def read(self):
        try:
            raw = self.raw()
        except OSError as e:
            raise fail(self.name, "cannot read (%s)" % e, "check the pin is an ADC pin")
        if self.scale is not None:
            return [(self.metric, raw * self.scale + self.offset)]
        return [(self.metric, raw // self.divisor + self.offset)]
