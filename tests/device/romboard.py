"""A virtual board's ROMFS partition, for the MicroPython unix port (which has none).

    micropython -i romboard.py        # REPL: mpremote romfs query / deploy work
    micropython romboard.py boot      # start as a board: /rom mounted, then main.py

The partition is the file ``romfs.img`` in the working directory (the
board's flash). ``vfs.rom_ioctl`` is what mpremote drives (query, prepare,
write, complete); the unix port lacks it, so ``sys.modules["vfs"]`` becomes
a stand-in that has it and passes everything else to the real ``vfs``.
Booting reads the image into a bytearray and mounts it at ``/rom`` with the
real ``vfs.VfsRom``, with ``sys.path`` as a board with ROMFS has it.
"""

import os
import sys

import vfs as _vfs

PART = "romfs.img"
PART_BYTES = 256 * 1024


class _Partition:
    buf = None

    @classmethod
    def load(cls):
        if cls.buf is None:
            cls.buf = bytearray(PART_BYTES)
            try:
                f = open(PART, "rb")
                f.readinto(cls.buf)
                f.close()
            except OSError:
                pass
        return cls.buf


def rom_ioctl(op, *args):
    if op == 1:  # number of partitions
        return 1
    if op == 2:  # the partition, as a buffer
        return memoryview(_Partition.load()) if not args or args[0] == 0 else -22
    if op == 3:  # prepare for writing: erase; answers the smallest write
        buf = _Partition.load()
        for i in range(len(buf)):
            buf[i] = 0xFF
        return 4
    if op == 4:  # write (partition, offset, data)
        offset, data = args[1], args[2]
        _Partition.load()[offset : offset + len(data)] = data
        return 0
    if op == 5:  # complete: the flash keeps it
        f = open(PART, "wb")
        f.write(_Partition.load())
        f.close()
        return 0
    if op == 6:  # block size: 0 means the whole partition
        return 0
    return -22


class _Vfs:
    VfsRom = _vfs.VfsRom
    VfsPosix = _vfs.VfsPosix
    mount = _vfs.mount
    umount = _vfs.umount
    rom_ioctl = rom_ioctl


def boot():
    buf = bytearray(os.stat(PART)[6])
    f = open(PART, "rb")
    f.readinto(buf)
    f.close()
    _vfs.mount(_vfs.VfsRom(buf), "/rom")
    here = sys.argv[0][: sys.argv[0].rfind("/")]
    sys.path[:] = ["", "/rom", "/rom/lib", "lib", here + "/shims"]
    import gc
    import time

    gc.collect()
    print("boot: %d bytes in use before the app (image: %d)" % (gc.mem_alloc(), len(buf)))
    import main  # noqa: F401  (the board's /main.py runs the app)

    time.sleep(3)  # stay powered: the pty must not close before socat passed the last lines


sys.modules["vfs"] = _Vfs
if "boot" in sys.argv[1:]:
    boot()
