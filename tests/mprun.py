"""Run board-side test modules under the MicroPython unix port.

Usage: micropython tests/mprun.py tests/core/test_point.py [...]

Calls every ``test_*`` function of each module, prints one line per failure
with its traceback, then ``N passed, N failed`` and exits 1 when anything
failed or nothing ran (micropython-lib's unittest.main() exits 0 either way).
"""

import sys


def _dirname(path):
    i = path.rfind("/")
    return path[:i] if i > 0 else "."


def main(argv):
    here = _dirname(argv[0])
    root = _dirname(here) if here != "." else ".."
    for p in (root + "/src", here):
        if p not in sys.path:
            sys.path.insert(0, p)
    passed = 0
    failed = 0
    for path in argv[1:]:
        d = _dirname(path)
        name = path[len(d) + 1 :]
        if name.endswith(".py"):
            name = name[:-3]
        if d not in sys.path:
            sys.path.insert(0, d)
        try:
            mod = __import__(name)
        except Exception as e:
            print("ERROR importing", path)
            sys.print_exception(e)
            failed += 1
            continue
        for attr in sorted(dir(mod)):
            if not attr.startswith("test_"):
                continue
            fn = getattr(mod, attr)
            if not callable(fn):
                continue
            try:
                fn()
                passed += 1
            except Exception as e:
                failed += 1
                print("FAIL %s::%s" % (path, attr))
                sys.print_exception(e)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(0 if failed == 0 and passed > 0 else 1)


main(sys.argv)
