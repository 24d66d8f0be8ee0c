"""Stand-in for Windows' ``msvcrt.locking`` (this machine is not Windows).

Windows locks a byte range of one open file; ``flock`` on that open file has
the meaning the project relies on: exclusive, non-blocking with LK_NBLCK,
dropped when the holder dies (POSIX ``lockf`` would also drop when any other
descriptor of the file is closed, which Windows does not do).
"""

import os

_fcntl = __import__("fcntl")  # taken before the test hides fcntl from tspush

LK_NBLCK = 2
calls = 0  # the test checks the Windows path was taken


def locking(fd: int, mode: int, nbytes: int) -> None:
    global calls
    calls += 1
    assert mode == LK_NBLCK
    assert nbytes > 0 and os.lseek(fd, 0, os.SEEK_CUR) > 0  # past the pid, as on Windows
    try:
        _fcntl.flock(fd, _fcntl.LOCK_EX | _fcntl.LOCK_NB)
    except OSError as e:
        raise PermissionError(13, "Permission denied") from e
