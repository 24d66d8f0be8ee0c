"""Put tests/device/shims first on sys.path, so ``network``, ``machine`` & co. are the shims.

On the MicroPython unix port a ``.py`` earlier on ``sys.path`` overrides even
built-in modules such as ``machine``; on CPython these modules do not exist.
"""

import sys


def _here():
    f = __file__
    i = f.rfind("/")
    return f[:i] if i >= 0 else "."


SHIMS = _here() + "/shims"
if SHIMS not in sys.path:
    sys.path.insert(0, SHIMS)
