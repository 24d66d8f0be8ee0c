"""The serial log: ``Log`` and ``cause_of``, now in ``device.app`` (see there), named here
as before.

A board never imports this module (each module costs an ESP8266 about 250 bytes of heap).
"""

from tspush.device.app import CAUSES, Log, cause_of

__all__ = ["CAUSES", "Log", "cause_of"]
