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
``rest``: only set-up runs, then ``rest: ok``; at the end, the name pool
(``qstr pool: ... n_qstr=N``).

A board's own main.py (two lines) interns no name the app does not, and
every interned name counts towards the qstr pool's next doubling (see
docs/benchmarks.md). So this script interns none either: its work is in a
function named like one of the app's (locals are not interned), and its
short strings come from one long literal (only literals of up to 10
characters are interned when a script is compiled).
"""

import gc
import os
import sys


def run():
    w = (
        "romfs.img /rom/lib /rom/lib/tspush lib/tspush lib /rom/shims rb "
        "/../../src/ /shims/"  # one literal: the parser joins them
    ).split()
    n = 0
    try:
        os.stat(w[1])
    except OSError:
        try:
            import vfs

            n = os.stat(w[0])[6]
            b = bytearray(n)
            f = open(w[0], w[6])
            f.readinto(b)
            f.close()
            vfs.mount(vfs.VfsRom(b), w[1][:4])
        except OSError:
            n = 0
    d = sys.argv[0][: sys.argv[0].rfind("/")]
    try:
        os.stat(w[2])
        sys.path.insert(0, w[1])
    except OSError:
        try:
            os.stat(w[3])
            sys.path.insert(0, w[4])
        except OSError:
            sys.path.insert(0, d + w[7])
    try:
        os.stat(w[5])
        sys.path.insert(1, w[5])
    except OSError:
        sys.path.insert(1, d + w[8])
    d = w = None
    gc.collect()
    print("before app: %d in use, image %d bytes on the heap" % (gc.mem_alloc(), n))


run()
import tspush.device.app  # noqa: E402

if len(sys.argv) > 1 and sys.argv[-1] == "rest set-up only"[:4]:

    def run(self):  # noqa: F811  (set-up only: the app's own name, nothing interned)
        self.setup()
        return self

    tspush.device.app.App.run = run
if tspush.device.app.main("config.json", wait_forever=False) is None:
    sys.exit(2)
if len(sys.argv) > 1 and sys.argv[-1] == "rest set-up only"[:4]:
    print("rest: ok (set-up only)")
import micropython  # noqa: E402  (after the run: how many names it interned)

micropython.qstr_info()
