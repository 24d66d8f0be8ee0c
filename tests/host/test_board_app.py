"""The whole board app under the MicroPython unix port, pushing over real TLS to ``tspush serve``.

The app runs as ``micropython tests/device/boardrun.py`` in a directory that
plays the board's flash; only the radio, pins and NTP are shims. Outcomes
are read back from the receiver's /api/query (values and timestamps), and
from the spool files on "flash".
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import urllib3

from support.ports import free_port
from support.receiver import ReceiverProcess
from support.tls import Certs, make_certs

ROOT = Path(__file__).resolve().parents[2]
MICROPYTHON = str(Path(sys.executable).parent / "micropython")
BOARDRUN = ROOT / "tests/device/boardrun.py"


def ca_der(certs: Certs) -> bytes:
    return ssl.PEM_cert_to_DER_cert(certs.ca_file.read_text())


def sha256_pin(certs: Certs) -> str:
    import hashlib

    return hashlib.sha256(certs.der).hexdigest()


def board(tmp_path: Path, cfg: dict[str, Any], certs: Certs | None = None, **shims: Any) -> Path:
    d = tmp_path / "flash"
    d.mkdir(exist_ok=True)
    base = {"boot_delay_s": 0, "interval_s": 1, "ntp_host": "", "watchdog_s": 0}
    (d / "config.json").write_text(json.dumps({**base, **cfg}))
    if certs is not None:
        (d / "ca.der").write_bytes(ca_der(certs))
    if shims:
        (d / "shims.json").write_text(json.dumps(shims))
    return d


def run_board(
    flash: Path, heap: str = "1M", timeout_s: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MICROPYTHON, "-X", f"heapsize={heap}", str(BOARDRUN)],
        cwd=flash,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def query(
    rx: ReceiverProcess,
    metric: str,
    start: int,
    certs: Certs,
    headers: dict[str, str] | None = None,
) -> dict[str, dict[str, Any]]:
    pool = urllib3.PoolManager(ca_certs=str(certs.ca_file))
    r = pool.request(
        "POST",
        rx.url + "/api/query",
        body=json.dumps(
            {"start": start, "queries": [{"metric": metric, "aggregator": "none"}]}
        ).encode(),
        headers={"Content-Type": "application/json", **(headers or rx.read_headers())},
        retries=False,
    )
    assert r.status == 200, r.data
    return {json.dumps(s["tags"], sort_keys=True): s["dps"] for s in json.loads(r.data)}


def https_receiver(tmp_path: Path, certs: Certs, *args: str) -> ReceiverProcess:
    return ReceiverProcess(
        tmp_path, "--tls", "--cert", str(certs.cert_file), "--key", str(certs.key_file), *args
    )


@pytest.fixture
def certs(tmp_path: Path) -> Certs:
    return make_certs(tmp_path / "pki")


def test_board_pushes_over_verified_tls_and_values_read_back(tmp_path: Path, certs: Certs) -> None:
    with https_receiver(tmp_path, certs, "--strict") as rx:
        flash = board(
            tmp_path,
            {
                "url": rx.url + "/api/put",
                "token": rx.write_token,
                "tls_ca": "ca.der",
                "fingerprint": sha256_pin(certs),
                "cycles": 3,
                "tags": {"board": "unix"},
                "sensors": [
                    {"type": "constant", "metric": "universe", "value": 42},
                    {"type": "analog", "pin": 0},
                    {"type": "dht", "pin": 4},
                ],
            },
            certs,
            machine={"adc": {"0": 517}},
        )
        t0 = int(time.time())
        r = run_board(flash)
        t1 = int(time.time())
        out = r.stdout
        assert r.returncode == 0, out + r.stderr
        assert "TLS: verify the server with CA ca.der and 1 pin(s)" in out
        # The unix port's TLS socket has no getpeercert(): the pin cannot be read there.
        assert "the fingerprint is not checked, the CA check is" in out
        assert "IP address: 127.0.0.1" in out
        assert "POST 127.0.0.1/api/put" in out and "http: 204" in out
        assert rx.write_token not in out  # never printed
        uni = query(rx, "universe", t0 - 5, certs)[json.dumps({"board": "unix"})]
        assert len(uni) == 3 and set(uni.values()) == {42}
        assert all(t0 <= int(ts) <= t1 for ts in uni)
        a0 = query(rx, "A0", t0 - 5, certs)[json.dumps({"board": "unix"})]
        assert set(a0.values()) == {51}  # the original's raw/10
        temp = query(rx, "dht.temperature_c", t0 - 5, certs)[json.dumps({"board": "unix"})]
        assert set(temp.values()) == {21.5}
        assert "done: 3 cycle(s), 12 point(s) sent, 0 waiting" in out


def test_pin_only_mode_refuses_where_the_certificate_cannot_be_read(
    tmp_path: Path, certs: Certs
) -> None:
    with https_receiver(tmp_path, certs) as rx:
        flash = board(
            tmp_path,
            {
                "url": rx.url + "/api/put",
                "token": rx.write_token,
                "tls_verify": "pin",
                "fingerprint": sha256_pin(certs),
                "cycles": 1,
            },
            certs,
        )
        r = run_board(flash)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "error: TLS while sending" in r.stdout
        assert "cannot be checked; nothing was sent: use tls_ca instead" in r.stdout
        assert "done: 1 cycle(s), 0 point(s) sent, 1 waiting" in r.stdout
        assert "POST /api/put" not in rx.text  # the receiver logged no request


def test_upstream_down_then_up_loses_nothing(tmp_path: Path, certs: Certs) -> None:
    port = free_port()
    url = f"https://127.0.0.1:{port}/api/put"
    flash = board(
        tmp_path,
        {"url": url, "token": "test-write-token-0123456789", "cycles": 3, "interval_s": 2},
        certs,
    )
    t0 = int(time.time())
    r = run_board(flash)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("error: connect while sending") >= 1
    assert "point(s) kept, retry 1 in" in r.stdout
    assert "done: 3 cycle(s), 0 point(s) sent, 3 waiting" in r.stdout
    with https_receiver(tmp_path, certs, "--port", str(port)) as rx:
        cfg = json.loads((flash / "config.json").read_text())
        cfg["cycles"] = 1
        cfg["sensors"] = [{"type": "constant", "metric": "universe", "value": 43}]
        (flash / "config.json").write_text(json.dumps(cfg))
        time.sleep(1.1)  # a new second: the new reading must not share a timestamp
        r = run_board(flash)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "spool: 3 reading(s) kept from before, to send" in r.stdout
        assert "done: 1 cycle(s), 4 point(s) sent, 0 waiting" in r.stdout
        dps = query(rx, "universe", t0 - 5, certs)["{}"]
        assert sorted(dps.values()) == [42, 42, 42, 43]


def test_killed_mid_write_the_spool_recovers(tmp_path: Path, certs: Certs) -> None:
    from tspush.core.spoolfix import scan

    port = free_port()
    flash = board(
        tmp_path,
        {
            "url": f"https://127.0.0.1:{port}/api/put",
            "token": "kill-test-token-42",
            "cycles": 1000,
            # whole-second timestamps: at 1 s a reading taken late on a loaded machine
            # can share its second with the next one, and the receiver keeps one of the two
            "interval_s": 2,
        },
        certs,
    )
    t0 = int(time.time())
    proc = subprocess.Popen(
        [MICROPYTHON, "-X", "heapsize=1M", str(BOARDRUN)],
        cwd=flash,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    segs: list[Path] = []
    while time.monotonic() < deadline:
        segs = sorted((flash / "spool").glob("*.seg"))
        if segs and len(list(scan(segs[-1].read_bytes()))) >= 4:
            break
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.stdout is not None
    proc.stdout.close()
    segs = sorted((flash / "spool").glob("*.seg"))
    data = segs[-1].read_bytes()
    records = list(scan(data))
    assert len(records) >= 4
    # The power went while the last record was half written: keep half of it.
    start, end, _ = records[-1]
    segs[-1].write_bytes(data[: start + (end - start) // 2])
    whole = sum(len(list(scan(s.read_bytes()))) for s in segs)
    with https_receiver(
        tmp_path, certs, "--port", str(port), "--token", "kill-test-token-42"
    ) as rx:
        cfg = json.loads((flash / "config.json").read_text())
        cfg["cycles"] = 1
        cfg["sensors"] = [{"type": "constant", "metric": "universe", "value": 43}]
        (flash / "config.json").write_text(json.dumps(cfg))
        time.sleep(1.1)  # a new second: the new reading must not share a timestamp
        r = run_board(flash)
        assert r.returncode == 0, r.stdout + r.stderr
        assert f"spool: {whole} reading(s) kept from before" in r.stdout
        assert f"{whole + 1} point(s) sent, 0 waiting" in r.stdout
        dps = query(rx, "universe", t0 - 5, certs, {"Authorization": "Bearer kill-test-token-42"})[
            "{}"
        ]
        assert sorted(dps.values()) == [42] * whole + [43]


def test_tls_none_warns_and_config_errors_name_the_key(tmp_path: Path, certs: Certs) -> None:
    with https_receiver(tmp_path, certs) as rx:
        flash = board(
            tmp_path,
            {
                "url": rx.url + "/api/put",
                "token": rx.write_token,
                "tls_verify": "none",
                "cycles": 1,
            },
        )
        r = run_board(flash)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "warning: TLS: the server's certificate is NOT verified" in r.stdout
        assert "http: 204" in r.stdout
    (flash / "config.json").write_text(json.dumps({"url": "https://x/api/put", "interval_s": "5"}))
    r = run_board(flash)
    assert r.returncode == 2
    assert "config error: config.json: interval_s: '5' has the wrong type" in r.stdout


# Smallest heap measured by bench/bench_board.py for this cycle (50 points, verified TLS,
# .mpy files): 138 KiB on the 64-bit unix port, with the default 20 KB TLS margin 147 KiB.
BOUNDED_HEAP = "160k"


def test_full_cycle_fits_in_a_bounded_heap(tmp_path: Path, certs: Certs) -> None:
    """Sample, spool, a 50-point batch, TLS POST, answer: with the compiled app, in 160 KiB."""
    from tspush.cli.deploy import stage
    from tspush.core.point import Point
    from tspush.core.spool import Spool

    with https_receiver(tmp_path, certs, "--quiet") as rx:
        flash = board(
            tmp_path,
            {"url": rx.url + "/api/put", "token": rx.write_token, "cycles": 1},
            certs,
        )
        stage(flash, "unix")
        sp = Spool(str(flash / "spool"), outputs=("board",), segment_bytes=4096, max_bytes=65536)
        t0 = int(time.time()) - 100
        sp.append([Point("kept", i, t0 + i, {"n": "x"}) for i in range(49)])
        sp.close()
        r = run_board(flash, BOUNDED_HEAP)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "POST 127.0.0.1/api/put (50 points" in r.stdout
        assert "done: 1 cycle(s), 50 point(s) sent, 0 waiting" in r.stdout
        kept = query(rx, "kept", t0 - 5, certs)[json.dumps({"n": "x"})]
        assert sorted(kept.values()) == list(range(49))
        assert len(query(rx, "universe", t0 - 5, certs)["{}"]) == 1


def test_relay_mode_plain_http_to_tspush_serve(tmp_path: Path) -> None:
    """The ESP8266 way: plain HTTP with a device token to ``tspush serve`` on the LAN."""
    with ReceiverProcess(tmp_path, "--token", "device-token-for-the-lan") as rx:
        flash = board(
            tmp_path,
            {
                "url": rx.url + "/api/put",
                "token": "device-token-for-the-lan",
                "cycles": 2,
                "sensors": [{"type": "internal"}],
            },
        )
        t0 = int(time.time())
        r = run_board(flash)
        assert r.returncode == 0, r.stdout + r.stderr
        assert (
            "TLS: none: plain HTTP to 127.0.0.1 (for a tspush serve relay on your LAN)" in r.stdout
        )
        assert "device-token-for-the-lan" not in r.stdout
        got = urllib3.request(
            "GET",
            rx.url + f"/api/query?start={t0 - 5}&m=none:board.uptime_s",
            headers={"Authorization": "Bearer device-token-for-the-lan"},
        )
        series = json.loads(got.data)
        assert len(series[0]["dps"]) == 2
