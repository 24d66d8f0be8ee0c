"""Board figures under the MicroPython unix port: heap per push cycle, bytes per point.

    python bench/bench_board.py [--quick]

The board app runs as on a board (compiled .mpy files from ``tspush deploy``'s
staging, the hardware shims, a spool on "flash") and pushes one batch of
1, 10 or 50 points over verified TLS to ``tspush serve`` on loopback. There
is no peak-heap counter that survives the GC, so the peak is found the way
the board finds it: the smallest ``-X heapsize`` with which the cycle still
sends everything (binary search, 1 KiB steps). Figures:

* ``at rest``: heap in use after set-up and after the cycle, once every
  module the cycle imports is loaded (the app's own ``memory:`` lines);
* ``min heap``: smallest heap that passes; ``cycle peak`` is min heap minus
  at rest: what sampling, spooling, the batch, TLS and the answer need;
* ``bytes/point``: bytes written to the socket (after TLS, i.e. request
  head and body, as ``Connection.sent_bytes`` counts them) per point.

The unix port is 64-bit: objects are about twice the size of a board's
32-bit ones, and its mbedTLS allocates its record buffers on the same heap.
"""

from __future__ import annotations

import json
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _util import ROOT, Row, main, row

BENCH = "board"
MICROPYTHON = str(Path(sys.executable).parent / "micropython")
BOARDRUN = ROOT / "tests/device/boardrun.py"


def _flash(base: Path, url: str, token: str, ca_der: bytes, n_points: int) -> Path:
    from tspush.cli.deploy import stage
    from tspush.core.point import Point
    from tspush.core.spool import Spool

    flash = base / f"flash-{n_points}"
    shutil.rmtree(flash, ignore_errors=True)
    flash.mkdir(parents=True)
    cfg = {
        "url": url,
        "token": token,
        "cycles": 1,
        "boot_delay_s": 0,
        "ntp_host": "",
        "watchdog_s": 0,
        "interval_s": 1,
        "tls_min_free_bytes": 0,  # measure what TLS takes, not the safety margin
        "tags": {"board": "unix", "room": "lab"},
    }
    (flash / "config.json").write_text(json.dumps(cfg))
    (flash / "ca.der").write_bytes(ca_der)
    stage(flash, "unix")
    if n_points > 1:  # readings kept from before; the cycle adds its own one
        sp = Spool(str(flash / "spool"), outputs=("board",), segment_bytes=4096, max_bytes=65536)
        t = int(time.time()) - 1000
        tags = {"board": "unix", "room": "lab"}
        sp.append([Point("universe", 42, t + i, tags) for i in range(n_points - 1)])
        sp.close()
    return flash


def _attempt(base: Path, args: tuple[str, str, bytes], n: int, heap_k: int) -> tuple[bool, str]:
    flash = _flash(base, *args, n)
    r = subprocess.run(
        [MICROPYTHON, "-X", f"heapsize={heap_k}k", str(BOARDRUN)],
        cwd=flash,
        capture_output=True,
        text=True,
        timeout=120,
    )
    ok = f"done: 1 cycle(s), {n} point(s) sent, 0 waiting" in r.stdout
    return ok, r.stdout


def _min_heap(
    base: Path, args: tuple[str, str, bytes], n: int, lo: int, hi: int
) -> tuple[int, str]:
    ok, out = _attempt(base, args, n, hi)
    if not ok:
        raise RuntimeError(f"{n} points do not pass even with {hi}k:\n{out[-1500:]}")
    best = out
    while hi - lo > 1:
        mid = (lo + hi) // 2
        ok, out = _attempt(base, args, n, mid)
        if ok:
            hi, best = mid, out
        else:
            lo = mid
    return hi, best


def _figures(base: Path, args: tuple[str, str, bytes], n: int, mode: str) -> list[Row]:
    heap_k, out = _min_heap(base, args, n, 48, 400)
    at_rest = re.findall(r"memory: \d+ bytes free, (\d+) in use", out)
    boot, rest = int(at_rest[0]), int(at_rest[-1])  # after set-up; after the cycle
    written = int(re.search(r"(\d+) bytes written", out).group(1))  # type: ignore[union-attr]
    note = f"unix port (64-bit), .mpy, {mode} to tspush serve"
    what = f"{n} point(s)/batch, {mode}"
    return [
        row(BENCH, f"min heap, {what}", heap_k, "KiB", note),
        row(BENCH, f"app after set-up, {what}", round(boot / 1024, 1), "KiB", note),
        row(BENCH, f"app at rest after a cycle, {what}", round(rest / 1024, 1), "KiB", note),
        row(
            BENCH,
            f"push cycle peak over rest, {what}",
            round(heap_k - rest / 1024, 1),
            "KiB",
            "min heap - at rest: sample, spool, batch, connect, POST, answer",
        ),
        row(
            BENCH,
            f"bytes written per point, {what}",
            round(written / n, 1),
            "B/point",
            "request head + body (before TLS framing)",
        ),
    ]


def run(quick: bool = False) -> list[Row]:
    from support.receiver import ReceiverProcess
    from support.tls import make_certs

    rows: list[Row] = []
    base = Path(tempfile.mkdtemp(prefix="tspush-bench-board-"))
    try:
        certs = make_certs(base / "pki")
        ca_der = ssl.PEM_cert_to_DER_cert(certs.ca_file.read_text())
        tls_args = ("--tls", "--cert", str(certs.cert_file), "--key", str(certs.key_file))
        for mode, extra in (("TLS", tls_args), ("relay (plain HTTP)", ())):
            with ReceiverProcess(base / ("rx-" + mode[:3]), *extra, "--quiet") as rx:
                assert rx.write_token is not None
                args = (rx.url + "/api/put", rx.write_token, ca_der)
                sizes = (1, 50) if quick or mode != "TLS" else (1, 10, 50)
                for n in sizes:
                    rows += _figures(base, args, n, mode)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return rows


if __name__ == "__main__":
    main(run)
