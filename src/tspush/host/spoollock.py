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


def dir_problem(directory: Path) -> str | None:
    """Why ``directory`` cannot be used (or created) by this user as a spool; None if it can.

    Checked without creating anything, so ``tspush run --check`` can say it.
    """
    d = Path(directory)
    if d.exists():
        if not d.is_dir():
            return "%s is not a directory" % d
        if not os.access(d, os.W_OK | os.X_OK):
            return "%s is not writable by this user" % d
        return None
    parent = d.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return "cannot create it: %s is not a directory" % parent
    if not os.access(parent, os.W_OK | os.X_OK):
        return "cannot create it: %s is not writable by this user" % parent
    return None


def dir_error(directory: Path, why: str, key: str) -> SpoolError:
    return SpoolError(
        "%s %s: %s: set %s to a directory this user can write, or create it first "
        "(mkdir -p %s, owned by this user, mode 700)" % (key, directory, why, key, directory)
    )


def lock_spool(directory: Path, key: str = "[spool] dir") -> IO[str]:
    """Hold the spool's lock (keep the returned file open); SpoolError if another has it.

    A directory that cannot be created or written is one SpoolError line
    naming it and ``key`` (the setting to change), never a traceback.
    """
    why = dir_problem(directory)
    if why is not None:
        raise dir_error(directory, why, key)
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        f = open(directory / "lock", "a+")
    except OSError as e:
        raise dir_error(directory, e.strerror or str(e), key) from None
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
