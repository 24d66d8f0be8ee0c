"""Run the board app under the MicroPython unix port with the hardware shims.

    cd BOARD_DIR && micropython .../tests/device/boardrun.py [config.json]

BOARD_DIR plays the board's flash (config.json, ca.der, spool/, and lib/ with
the compiled .mpy files if ``tspush deploy`` staged them there). An optional
``shims.json`` there sets the shims' state, e.g. ``{"machine": {"adc": {"0": 517}}}``.

Its ``"board"`` key plays the chip: ``"port"`` sets ``ticks.port`` (``"esp8266"``...);
``"rtc": true`` runs the app on the emulated RTC, which ``hw.json`` carries from
one run to the next as the chip keeps it through deep sleep and resets. Without
``hw.json`` a run is a power-on: the RTC starts again from the epoch ("not set").
Deep sleep really waits, saves ``hw.json`` and exits with status 3: the test
runs the next boot.

``"ballast": {"push": N, "leave": B}`` plays a heap that runs out during the
N-th push, whatever the app's size: before it, the heap is filled up with
blocks until only about B bytes are free, and they are released when the
push returns or raises (the test need not know the heap the app needs).
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
    chip = wanted.pop("board", {})
    for name in wanted:
        mod = __import__(name)
        for k, v in wanted[name].items():
            if k == "adc":
                v = dict((int(pin), v[pin]) for pin in v)
            mod.state[k] = v
    import machine

    from tspush.device import ticks

    ticks.port = chip.get("port", ticks.port)
    if chip.get("rtc"):
        ticks.rtc_ms = machine.rtc_ms
        try:
            f = open("hw.json")
            hw = json.loads(f.read())
            f.close()
            machine.state["rtc"] = hw["rtc"].encode()
            machine.state["rtc_off_ms"] = hw["rtc_off_ms"]
            machine.state["reset_cause"] = hw["cause"]
        except OSError:
            machine.power_on()
    import tspush.device.app

    if chip.get("ballast"):
        _ballast(tspush.device.app.App, chip["ballast"])
    path = sys.argv[1] if len(sys.argv) > 1 else "config.json"
    code = 0
    try:
        if tspush.device.app.main(path, wait_forever=False) is None:
            code = 2
    except SystemExit:
        if not machine.state["deepsleep"]:
            raise
        print("board: deep sleep %d ms" % machine.state["deepsleep"][-1])
        code = 3
    if chip.get("rtc"):
        cause = machine.DEEPSLEEP_RESET if code == 3 else machine.SOFT_RESET
        f = open("hw.json", "w")
        f.write(
            json.dumps(
                {
                    "rtc": machine.state["rtc"].decode(),
                    "rtc_off_ms": machine.state["rtc_off_ms"],
                    "cause": cause,
                }
            )
        )
        f.close()
    if code == 3:
        ticks.sleep_ms(machine.state["deepsleep"][-1])
    sys.exit(code)


def _ballast(app_class, want):
    import gc

    push = app_class.push
    count = [0]

    def held_push(self):
        count[0] += 1
        if count[0] != want["push"]:
            return push(self)
        # What the push loads (the forwarder, and the names it interns) is loaded first:
        # the ballast is about what a push allocates, not about where a module's names
        # make the name pool grow (that moves whenever any module changes).
        import tspush.core.forward  # noqa: F401

        gc.collect()
        hold = []
        size = 4096
        while size >= 16:  # fill the heap, largest blocks first, down to scraps
            try:
                hold.append(bytearray(size))
            except MemoryError:
                size //= 2
        free = 0
        while hold and free < want["leave"]:  # give back about "leave" bytes
            free += len(hold.pop(0))
        gc.collect()
        print("board: ballast holds all but %d bytes during push %d" % (gc.mem_free(), count[0]))
        try:
            return push(self)
        finally:
            hold = None
            gc.collect()

    app_class.push = held_push


main()
