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
``rest``: only set-up runs, then ``rest: ok``.
"""

import gc
import os
import sys

IMAGE = "romfs.img"


def _dirname(path):
    i = path.rfind("/")
    return path[:i] if i > 0 else "."


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def mount():
    """Mount ``romfs.img`` at /rom unless the port did; return the bytes it holds on the heap."""
    if _exists("/rom/lib"):
        return 0
    if not _exists(IMAGE):
        return 0
    import vfs

    buf = bytearray(os.stat(IMAGE)[6])
    f = open(IMAGE, "rb")
    f.readinto(buf)
    f.close()
    try:
        vfs.umount("/rom")
    except OSError:
        pass
    vfs.mount(vfs.VfsRom(buf), "/rom")
    return len(buf)


def main():
    here = _dirname(sys.argv[0])
    rest = "rest" in sys.argv[1:]
    image_bytes = mount()
    path = []
    if _exists("/rom/lib/tspush"):
        path.append("/rom/lib")
    elif _exists("lib/tspush"):
        path.append("lib")
    else:
        path.append(_dirname(_dirname(here)) + "/src")
    path.append("/rom/shims" if _exists("/rom/shims") else here + "/shims")
    sys.path[:0] = path
    gc.collect()
    print("before app: %d in use, image %d bytes on the heap" % (gc.mem_alloc(), image_bytes))
    import tspush.device.app

    if rest:

        def run(self):
            self.setup()
            return self

        tspush.device.app.App.run = run
    app = tspush.device.app.main("config.json", wait_forever=False)
    if app is None:
        sys.exit(2)
    if rest:
        print("rest: ok")
    sys.exit(0)


main()
