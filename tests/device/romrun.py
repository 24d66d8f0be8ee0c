"""Boot the board app from a ROMFS image under the MicroPython unix port, as a board does.

    cd BOARD_DIR && micropython [-X heapsize=N] .../tests/device/romrun.py [rest]

BOARD_DIR plays the board's writable flash (config.json, ca.der, spool/).
The app is read from ``/rom``: the 32-bit measuring binary maps the image
named in ``$MICROPY_ROMFS`` outside the heap and mounts it there itself;
otherwise ``romfs.img`` in BOARD_DIR is read into a bytearray (on the heap:
it is in use before the app, so it drops out of the figure) and mounted.
Without a ``lib/tspush`` in the image, the deployed ``lib/`` on "flash" runs.
The shims come from ``/rom/shims`` when the image holds them (stand-ins for
C modules on a board), else from tests/device/shims.

Prints ``before app: N in use`` (heap in use before the app is imported);
``rest``: only set-up runs, then ``rest: ok``. Written with as few distinct
names as it can: every name a script interns counts towards the qstr pool's
next doubling, and a board's own main.py interns almost none.
"""

import gc
import os
import sys

try:
    os.stat("/rom/lib")
    n = 0
except OSError:
    try:
        import vfs

        n = os.stat("romfs.img")[6]
        b = bytearray(n)
        f = open("romfs.img", "rb")
        f.readinto(b)
        f.close()
        vfs.mount(vfs.VfsRom(b), "/rom")
    except OSError:
        n = 0
d = sys.argv[0][: sys.argv[0].rfind("/")]
try:
    os.stat("/rom/lib/tspush")
    sys.path.insert(0, "/rom/lib")
except OSError:
    try:
        os.stat("lib/tspush")
        sys.path.insert(0, "lib")
    except OSError:
        sys.path.insert(0, d + "/../../src")
try:
    os.stat("/rom/shims")
    sys.path.insert(1, "/rom/shims")
except OSError:
    sys.path.insert(1, d + "/shims")
del d
gc.collect()
print("before app: %d in use, image %d bytes on the heap" % (gc.mem_alloc(), n))
import tspush.device.app  # noqa: E402

if "rest" in sys.argv:

    def run(self):
        self.setup()
        return self

    tspush.device.app.App.run = run
if tspush.device.app.main("config.json", wait_forever=False) is None:
    sys.exit(2)
if "rest" in sys.argv:
    print("rest: ok")
