# ruff: noqa: F821  (include and module are given by MicroPython's manifest reader)
# Freeze the tspush board app into a MicroPython firmware, for those who build their own.
#
#   make -C ports/esp8266 BOARD=ESP8266_GENERIC \
#        FROZEN_MANIFEST=/path/to/tspush/tools/firmware/manifest.py
#
# Frozen, the app's code, constants and names live in flash: on an ESP8266 it
# needs about 23 KiB of heap at rest instead of about 34 KiB from a ROMFS image
# (docs/benchmarks.md). boot.py, main.py and config.json stay on the board's
# filesystem (tspush deploy copies them; with a frozen app, deploy --source
# is not needed). The list is what `tspush deploy` installs, without the
# host-only encoders; tests/host/test_deploy_romfs.py keeps it in step.
# Paths are relative to this file.

include("$(PORT_DIR)/boards/manifest.py")

module("tspush/__init__.py", base_path="../../src")
module("tspush/core/__init__.py", base_path="../../src")
module("tspush/core/answer.py", base_path="../../src")
module("tspush/core/auth.py", base_path="../../src")
module("tspush/core/echo.py", base_path="../../src")
module("tspush/core/errorkinds.py", base_path="../../src")
module("tspush/core/errors.py", base_path="../../src")
module("tspush/core/fingerprint.py", base_path="../../src")
module("tspush/core/forward.py", base_path="../../src")
module("tspush/core/http.py", base_path="../../src")
module("tspush/core/httpread.py", base_path="../../src")
module("tspush/core/opentsdb.py", base_path="../../src")
module("tspush/core/pack.py", base_path="../../src")
module("tspush/core/point.py", base_path="../../src")
module("tspush/core/prepare.py", base_path="../../src")
module("tspush/core/response.py", base_path="../../src")
module("tspush/core/retry.py", base_path="../../src")
module("tspush/core/says.py", base_path="../../src")
module("tspush/core/spool.py", base_path="../../src")
module("tspush/core/spoolfix.py", base_path="../../src")
module("tspush/core/spoolmore.py", base_path="../../src")
module("tspush/core/tls.py", base_path="../../src")
module("tspush/device/__init__.py", base_path="../../src")
module("tspush/device/app.py", base_path="../../src")
module("tspush/device/buffer.py", base_path="../../src")
module("tspush/device/clock.py", base_path="../../src")
module("tspush/device/config.py", base_path="../../src")
module("tspush/device/log.py", base_path="../../src")
module("tspush/device/portal.py", base_path="../../src")
module("tspush/device/push.py", base_path="../../src")
module("tspush/device/pushram.py", base_path="../../src")
module("tspush/device/state.py", base_path="../../src")
module("tspush/device/ticks.py", base_path="../../src")
module("tspush/device/tlsmode.py", base_path="../../src")
module("tspush/device/wifi.py", base_path="../../src")
module("tspush/device/sensors/__init__.py", base_path="../../src")
module("tspush/device/sensors/analog.py", base_path="../../src")
module("tspush/device/sensors/bme280.py", base_path="../../src")
module("tspush/device/sensors/constant.py", base_path="../../src")
module("tspush/device/sensors/dhtxx.py", base_path="../../src")
module("tspush/device/sensors/ds18b20.py", base_path="../../src")
module("tspush/device/sensors/internal.py", base_path="../../src")
