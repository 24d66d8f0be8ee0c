"""One process per spool directory: a second agent would interleave its writes.

An exclusive OS lock on ``DIR/lock``, held for the life of the process:
``flock`` on POSIX, ``msvcrt.locking`` on Windows (which has no ``fcntl``).
Either way the kernel drops it when the process dies (even by SIGKILL), so
a crash never leaves a stale lock behind. The file holds the holder's pid,
for the error message of the one that is turned away.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from tspush.core.errors import SpoolError


def _try_lock(f: IO[str]) -> bool:
    """Take the exclusive lock without waiting; False when another process holds it."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        f.seek(0)
        try:
            # Lock one byte far past the pid, so reading the pid is never blocked.
            f.seek(1 << 20)
            msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        finally:
            f.seek(0)
        return True
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def lock_spool(directory: Path) -> IO[str]:
    """Hold the spool's lock (keep the returned file open); SpoolError if another has it."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / "lock"
    f = open(path, "a+")
    if not _try_lock(f):
        f.seek(0)
        holder = f.read().strip() or "?"
        f.close()
        raise SpoolError(
            "spool %s is in use by another tspush process (pid %s): stop it, or give this "
            "one its own spool directory ([spool] dir for tspush run, --spool-dir for "
            "tspush serve --forward)" % (directory, holder)
        )
    f.seek(0)
    f.truncate()
    f.write(str(os.getpid()))
    f.flush()
    return f
