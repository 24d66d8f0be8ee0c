# tspush board entry point, copied to the board's /main.py. Kept tiny: the
# app lives in /lib/tspush; settings in /config.json (see docs/hardware.md).
import tspush.device.app

tspush.device.app.main()
