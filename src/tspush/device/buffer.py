"""Where readings wait: ``Buffer``, now in ``device.app`` (see there), named here as before.

A board never imports this module (each module costs an ESP8266 about 250 bytes of heap).
"""

from tspush.device.app import Buffer

__all__ = ["Buffer"]
