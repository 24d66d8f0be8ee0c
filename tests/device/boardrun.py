"""Run the board app under the MicroPython unix port with the hardware shims.

    cd BOARD_DIR && micropython .../tests/device/boardrun.py [config.json]

BOARD_DIR plays the board's flash (config.json, ca.der, spool/, and lib/ with
the compiled .mpy files if ``tspush deploy`` staged them there). An optional
``shims.json`` there sets the shims' state, e.g. ``{"machine": {"adc": {"0": 517}}}``.
"""

import sys


def _dirname(path):
    i = path.rfind("/")
    return path[:i] if i > 0 else "."


def main():
    here = _dirname(sys.argv[0])
    for p in (_dirname(_dirname(here)) + "/src", here + "/shims"):
        sys.path.insert(0, p)
    import os

    try:
        os.stat("lib/tspush")  # deployed (compiled) files on "flash" win, as on a board
        sys.path.insert(0, "lib")
    except OSError:
        pass
    import json

    try:
        f = open("shims.json")
        wanted = json.loads(f.read())
        f.close()
    except OSError:
        wanted = {}
    for name in wanted:
        mod = __import__(name)
        for k, v in wanted[name].items():
            if k == "adc":
                v = dict((int(pin), v[pin]) for pin in v)
            mod.state[k] = v
    import tspush.device.app

    path = sys.argv[1] if len(sys.argv) > 1 else "config.json"
    app = tspush.device.app.main(path, wait_forever=False)
    if app is None:
        sys.exit(2)
    sys.exit(0)


main()
