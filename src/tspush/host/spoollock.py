"""One process per spool directory: a second agent would interleave its writes.

An exclusive ``flock`` on ``DIR/lock``, held for the life of the process;
the kernel drops it when the process dies (even by SIGKILL), so a crash
never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from tspush.core.errors import SpoolError


def lock_spool(directory: Path) -> IO[str]:
    """Hold the spool's lock (keep the returned file open); SpoolError if another has it."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / "lock"
    f = open(path, "a+")
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.seek(0)
        holder = f.read().strip() or "?"
        f.close()
        raise SpoolError(
            "spool %s is in use by another tspush process (pid %s): stop it, or give this "
            "one its own spool directory ([spool] dir for tspush run, --spool-dir for "
            "tspush serve --forward)" % (directory, holder)
        ) from None
    f.seek(0)
    f.truncate()
    f.write(str(os.getpid()))
    f.flush()
    return f
