"""Board faults under the MicroPython unix port: power cuts on the flash spool,
and out of memory during TLS.

Power cuts: ``mp_powercut.py`` damages the spool 300 times at random
(truncation mid-write, a changed byte, garbage after the end, a torn cursor)
and checks the reboot under ``micropython`` itself, then under CPython.

Out of memory: the real board app (compiled .mpy, as ``tspush deploy``
stages it) pushes over verified TLS to ``tspush serve`` with heaps from
"too small" up; every run must end cleanly, say what ran out and keep what
it could not send. A last run with a normal heap on the same flash sends
everything that was kept. Recovery within one run does not rest on a heap
size that happens to fail once: a ballast fills the heap during the first
push only, and the later cycles must send that reading (read back).
"""

from __future__ import annotations

import json
import re
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from support.receiver import ReceiverProcess
from support.tls import make_certs

from .figures import record

ROOT = Path(__file__).resolve().parents[2]
MICROPYTHON = str(Path(sys.executable).parent / "micropython")
BOARDRUN = ROOT / "tests/device/boardrun.py"
POWERCUT = Path(__file__).with_name("mp_powercut.py")
ROUNDS = 300


@pytest.mark.parametrize("interp", ["micropython", "cpython"])
def test_power_cuts_on_the_flash_spool_lose_only_the_damaged_records(
    tmp_path: Path, interp: str
) -> None:
    exe = MICROPYTHON if interp == "micropython" else sys.executable
    args = [exe, "-X", "heapsize=4M"] if interp == "micropython" else [exe]
    r = subprocess.run(
        [*args, str(POWERCUT), str(ROOT / "src"), str(tmp_path), str(ROUNDS), "20261127"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0 and r.stdout.startswith("OK"), r.stdout[-2000:] + r.stderr[-2000:]
    _, rounds, lost, corrupt = r.stdout.split()
    record(
        "power cut on the flash spool (" + interp + ")",
        rounds=int(rounds),
        damage="truncate mid-write / flip a byte / garbage tail / torn cursor",
        points_in_damaged_records=int(lost),
        corrupt_bytes_cut=int(corrupt),
        lost_outside_damage=0,
    )


def _flash(base: Path, name: str, url: str, token: str, ca_der: bytes, **cfg: object) -> Path:
    from tspush.cli.deploy import stage

    d = base / name
    d.mkdir(parents=True, exist_ok=True)
    conf = {
        "boot_delay_s": 0,
        "interval_s": 0.2,
        "ntp_host": "",
        "watchdog_s": 0,
        "url": url,
        "token": token,
        "tls_ca": "ca.der",
        "spool_dir": "spool",
        "sensors": [{"type": "constant", "metric": "oom.test", "value": 42}],
        **cfg,
    }
    (d / "config.json").write_text(json.dumps(conf))
    (d / "ca.der").write_bytes(ca_der)
    stage(d, "unix")
    return d


def _read_back(rx: ReceiverProcess, ca_file: Path, metric: str, start: int) -> int:
    ctx = ssl.create_default_context(cafile=str(ca_file))
    req = urllib.request.Request(
        rx.url + f"/api/query?start={start}&m=none:{metric}", headers=rx.read_headers()
    )
    try:
        with urllib.request.urlopen(req, timeout=30, context=ctx) as resp:
            return sum(len(s["dps"]) for s in json.loads(resp.read()))
    except urllib.error.HTTPError as e:
        if e.code == 404:  # nothing stored yet
            return 0
        raise


def _run(flash: Path, heap_k: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MICROPYTHON, "-X", f"heapsize={heap_k}k", str(BOARDRUN)],
        cwd=flash,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_out_of_memory_during_tls_is_reported_and_recovered(tmp_path: Path) -> None:
    certs = make_certs(tmp_path / "pki")
    ca_der = ssl.PEM_cert_to_DER_cert(certs.ca_file.read_text())
    cycles = 6
    rows = []
    with ReceiverProcess(
        tmp_path, "--tls", "--cert", str(certs.cert_file), "--key", str(certs.key_file)
    ) as rx:
        flashes: list[tuple[Path, int]] = []

        def attempt(heap_k: int, guard: int) -> dict[str, object]:
            """One boot with ``heap_k`` KiB; guard 0 starts TLS whatever is free."""
            flash = _flash(
                tmp_path,
                f"f{heap_k}-{guard}",
                rx.url + "/api/put",
                rx.write_token or "",
                ca_der,
                cycles=cycles,
                tls_min_free_bytes=guard,
            )
            r = _run(flash, heap_k)
            out = r.stdout + r.stderr
            done = re.search(r"done: (\d+) cycle\(s\), (\d+) point\(s\) sent, (\d+) waiting", out)
            lines = out.splitlines()
            oom_at = [i for i, s in enumerate(lines) if "out of memory" in s]
            ok_at = [i for i, s in enumerate(lines) if s.startswith("http: 2")]
            row = {
                "heap_k": heap_k,
                "tls_min_free_bytes": guard,
                "exit": r.returncode,
                "sent": int(done.group(2)) if done else None,
                "waiting": int(done.group(3)) if done else None,
                "oom_reports": len(oom_at),
                "recovered_after_oom": bool(oom_at and ok_at and max(ok_at) > min(oom_at)),
                "tls_guard_said": "TLS needs about" in out,
                "set_up": "config:" in out,
            }
            rows.append(row)
            assert "Traceback" not in out or not row["set_up"], out[-2500:]
            if row["set_up"]:
                assert r.returncode == 0 and done, out[-2500:]
                assert int(done.group(2)) + int(done.group(3)) <= cycles
                flashes.append((flash, int(done.group(3))))
            return row

        # coarse: the first heap that sends every reading; then 1 KiB steps below it,
        # where TLS runs out (the window moves as the app changes, so it is searched)
        enough = None
        for heap_k in range(96, 257, 8):
            if attempt(heap_k, 0)["sent"] == cycles:
                enough = heap_k
                break
        assert enough is not None, "no heap up to 256 KiB sends everything"
        for heap_k in range(enough - 7, enough):
            attempt(heap_k, 0)
        # the app's own guard refuses TLS under tls_min_free_bytes free: above the whole
        # heap it always speaks (the default 20 kB may or may not, as the app's size changes)
        attempt(enough, enough * 1024)
        attempt(enough + 8, 20000)
        # the same flashes with a normal heap: everything kept goes out (acked with a 2xx)
        kept = sum(w for _, w in flashes)
        resent = 0
        for flash, waiting in flashes:
            cfg = json.loads((flash / "config.json").read_text())
            cfg["cycles"] = 1
            (flash / "config.json").write_text(json.dumps(cfg))
            r = _run(flash, 1024)
            want = f"done: 1 cycle(s), {waiting + 1} point(s) sent, 0 waiting"
            assert r.returncode == 0 and want in r.stdout, r.stdout[-2000:]
            resent += waiting
        # One push out of memory, then sent: the ballast (see tests/device/boardrun.py)
        # fills the heap during the first push only (the TLS handshake: later pushes
        # reuse the connection), leaving 8 KiB, far less than a handshake needs, whatever
        # the heap the app needs. (The sweep above need not
        # have such a band: since TLS sits in its own module, a heap is either too small for
        # every handshake or big enough for all of them.)
        flash = _flash(
            tmp_path,
            "ballast",
            rx.url + "/api/put",
            rx.write_token or "",
            ca_der,
            cycles=4,
            interval_s=2,  # one reading per second at most: each has its own timestamp
            sensors=[{"type": "constant", "metric": "oom.ballast", "value": 42}],
        )
        flash.joinpath("shims.json").write_text(
            json.dumps({"board": {"ballast": {"push": 1, "leave": 8192}}})
        )
        t0 = int(time.time()) - 600
        out = _run(flash, 1024).stdout
        lines = out.splitlines()
        held = [i for i, s in enumerate(lines) if s.startswith("board: ballast holds")]
        oom = [i for i, s in enumerate(lines) if "out of memory while sending" in s]
        sent_at = [i for i, s in enumerate(lines) if s.startswith("http: 2")]
        assert len(held) == 1 and oom and min(oom) > held[0], out[-2500:]
        ballast_free = int(lines[held[0]].split()[5])
        # the first POST ran out (in its TLS handshake: no answer came before it), was
        # logged with its cause, the reading kept and counted, the batch halved
        assert not [i for i in sent_at if i < min(oom)], out[-2500:]
        assert "1 point(s) kept, retry 1 in" in out, out[-2500:]
        assert "memory: next batches at most 25 points" in out, out[-2500:]
        assert [i for i in sent_at if i > max(oom)], "never sent after running out"
        assert "done: 4 cycle(s), 4 point(s) sent, 0 waiting" in out, out[-2500:]
        # read back from the receiver, which commits in batches: wait, with a bound
        deadline = time.monotonic() + 30
        while _read_back(rx, certs.ca_file, "oom.ballast", t0) != 4:
            assert time.monotonic() < deadline, "4 points sent, not all read back"
            time.sleep(0.1)
    record(
        "board out of memory during TLS",
        cycles_per_run=cycles,
        runs=rows,
        kept=kept,
        ballast_run={"free_during_push_1": ballast_free, "oom_reports": len(oom), "sent": 4},
    )
    ran = [r for r in rows if r["set_up"]]
    assert ran, "no heap was big enough to even start: move the range up"
    assert any(r["oom_reports"] for r in ran), "no heap was small enough to run out"
    assert any(r["sent"] == cycles for r in ran), "no heap was big enough to send everything"
    assert any(r["tls_guard_said"] for r in ran), "the TLS guard never spoke"
    assert resent == kept
