"""Sensors: one small module each, one ``read()``, a clear reason when it fails.

Every sensor has ``name`` and ``read() -> [(metric, value), ...]``; a
failure raises TspushError saying what to check (ESPHome's way). The app
skips a failing sensor for that cycle, reports it, and reads the rest.
Modules are imported only for the types the config uses (RAM on ESP8266).
"""

from tspush.core.errors import ConfigError, TspushError

TYPES = ("constant", "analog", "dht", "ds18b20", "bme280", "internal")


def make(spec, ctx=None):
    """One sensor from its config object; ConfigError naming the type when unknown."""
    kind = spec.get("type")
    if kind == "constant":
        from tspush.device.sensors.constant import Constant

        return Constant(spec, ctx or {})
    elif kind == "analog":
        from tspush.device.sensors.analog import Analog

        return Analog(spec, ctx or {})
    elif kind == "dht":
        from tspush.device.sensors.dhtxx import DHT

        return DHT(spec, ctx or {})
    elif kind == "ds18b20":
        from tspush.device.sensors.ds18b20 import DS18B20

        return DS18B20(spec, ctx or {})
    elif kind == "bme280":
        from tspush.device.sensors.bme280 import BME280

        return BME280(spec, ctx or {})
    elif kind == "internal":
        from tspush.device.sensors.internal import Internal

        return Internal(spec, ctx or {})
    else:
        raise ConfigError(
            "unknown sensor type %r: use one of %s" % (kind, ", ".join(TYPES)), "type"
        )


def build(specs, ctx=None):
    """``(sensors, problems)``: a sensor that cannot be set up is left out and reported."""
    sensors = []
    problems = []
    for i in range(len(specs)):
        spec = specs[i]
        try:
            sensors.append(make(spec, ctx))
        except (TspushError, OSError, ValueError, TypeError, ImportError) as e:
            problems.append("sensors[%d] %s: %s" % (i, spec.get("type"), e))
    return sensors, problems


def fail(name, what, advice):
    return TspushError("%s: %s: %s" % (name, what, advice))
