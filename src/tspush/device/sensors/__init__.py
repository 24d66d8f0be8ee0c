"""Sensors: one small module each, one ``read()``, a clear reason when it fails.

Every sensor has ``name`` and ``read() -> [(metric, value), ...]``; a
failure raises TspushError saying what to check (ESPHome's way). The app
skips a failing sensor for that cycle, reports it, and reads the rest.
Modules are imported only for the types the config uses (RAM on ESP8266),
and their names are interned only then.
"""

from tspush.core import errors
from tspush.core.errors import TspushError


def make(spec, ctx=None):
    """One sensor from its config object; ConfigError naming the type when unknown."""
    kind = spec.get("type")
    known = []
    # type, module, class: one long string, so a board interns the names of the
    # configured sensors only (every distinct name costs RAM on an ESP8266).
    kinds = (
        "constant constant Constant|analog analog Analog|dht dhtxx DHT|ds18b20 ds18b20 DS18B20|"
        "bme280 bme280 BME280|internal internal Internal"
    )
    for entry in kinds.split("|"):
        parts = entry.split(" ")
        if parts[0] == kind:
            mod = __import__("tspush.device.sensors." + parts[1], None, None, (parts[2],))
            return getattr(mod, parts[2])(spec, ctx or {})
        known.append(parts[0])
    raise errors.ConfigError(
        "unknown sensor type %r: use one of %s" % (kind, ", ".join(known)), "type"
    )


def build(sensors, ctx=None):
    """``(sensors, problems)`` from the config's sensor objects: one that cannot be set
    up is left out and reported. (The argument's name is one the app interns anyway.)"""
    specs = sensors
    sensors = []
    problems = []
    for i in range(len(specs)):
        spec = specs[i]
        try:
            sensors.append(make(spec, ctx))
        except (TspushError, OSError, ValueError, TypeError, ImportError) as e:
            problems.append("sensors[%d] %s: %s" % (i, spec.get("type"), e))
    return sensors, problems


def fail(*args):
    """``fail(sensor_name, what_went_wrong, what_to_check)``: the error a sensor raises.

    Positional only (``*args``): argument names are interned on a board.
    """
    return TspushError("%s: %s: %s" % args)
