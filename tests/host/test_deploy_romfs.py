"""``tspush deploy --romfs`` against a virtual board with a ROMFS partition, for real.

The virtual board is the MicroPython unix port behind socat, as in
test_deploy.py, started with ``tests/device/romboard.py``: a stand-in for
the partition (``vfs.rom_ioctl``, a file ``romfs.img`` on "flash") that
``mpremote romfs query``/``deploy`` drive. socat forks one interpreter per
connection, as a board keeps its flash between mpremote runs. The board then
boots from ``/rom``, pushes plain HTTP (the ESP8266 relay path) to
``tspush serve``, and the points are read back. The at-rest heap is bounded.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from support.ports import free_port
from support.receiver import ReceiverProcess
from support.tls import make_certs

ROOT = Path(__file__).resolve().parents[2]
MICROPYTHON = str(Path(sys.executable).parent / "micropython")
ROMBOARD = ROOT / "tests/device/romboard.py"
Run = Callable[..., subprocess.CompletedProcess[str]]

# Heap the app holds at rest on the 64-bit unix port, booted from ROMFS (the
# "memory: ... in use at rest" line minus what was in use before main.py, the
# image included). Measured 58,688 B on 2026-12-03 (relay config, one constant
# sensor; docs/benchmarks.md), 59,616 B with the complete config.json read as
# JSON, 55,936 B after the s3-bapp pass (board delivery without core.forward,
# readings stored without core.point, leaf error classes made at first use),
# 52,128 B after the s3-bapp2 pass (rare texts in core/says.py, ConfigError and
# PointError made at first use), 43,488 B after the s4-board pass (the spool's
# 50-name board path merged; the machine/network stand-ins load their rarely used
# part at first use; Log, Buffer and Clock in device/app.py; the Spool's host-only
# methods from core.spoolmore), 34,016 B after the s5-rest pass (the connection,
# the Pusher and Wi-Fi made at the first push); the bound leaves about 4 % room.
AT_REST_MAX_BYTES = 35_400
# Names (qstrs) the relay app interns at rest on the 64-bit port, set-up only
# (``micropython.qstr_info()``'s n_qstr after tests/device/romrun.py ... rest).
# Measured 547 after the s3-bapp pass, 425 after the s4-board pass, 341 after the s5-rest
# pass; the bound leaves a
# few names of room. On the 32-bit
# board every name past 620 allocates a 640-entry pool in one 4.5 KB block
# (docs/benchmarks.md): this keeps the count from creeping back up.
AT_REST_MAX_NAMES = 348


class Board:
    """The unix port on a pseudo-serial link, one interpreter per connection."""

    def __init__(self, flash: Path, *args: str) -> None:
        if shutil.which("socat") is None:
            pytest.fail("socat is not installed: run tools/test (it installs it)")
        self.port = free_port()
        cmd = " ".join([MICROPYTHON, "-X", "heapsize=2M", *args])
        self.proc = subprocess.Popen(
            [
                "socat",
                f"TCP-LISTEN:{self.port},bind=127.0.0.1,reuseaddr,fork",
                f"EXEC:{cmd},pty,raw,echo=0,stderr",
            ],
            cwd=flash,
            env={k: v for k, v in os.environ.items() if k != "MICROPYPATH"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.url = f"socket://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            out = subprocess.run(["ss", "-ltn"], capture_output=True, text=True).stdout
            if f"127.0.0.1:{self.port} " in out:
                return
            time.sleep(0.05)
        self.stop()
        raise TimeoutError("socat is not listening")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> Board:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def relay_config(tmp_path: Path, rx: ReceiverProcess, metric: str) -> Path:
    p = tmp_path / "tspush.toml"
    p.write_text(
        f"""
[output]
url = "{rx.url}/api/put"
token = "{rx.write_token}"
profile = "tspush"

[tags]
board = "d1mini"

[board]
interval_s = 1
cycles = 2
boot_delay_s = 0
ntp_host = ""
watchdog_s = 0
provision = false
sensors = [{{type = "constant", metric = "{metric}", value = 42}}]
"""
    )
    p.chmod(0o600)
    return p


def test_deploy_romfs_boots_from_rom_and_pushes(tmp_path: Path, tspush: Run) -> None:
    flash = tmp_path / "flash"
    old = flash / "lib/tspush/core"  # an earlier .mpy install: removed, the image replaces it
    old.mkdir(parents=True)
    (old / "http.mpy").write_bytes(b"M old")
    with ReceiverProcess(tmp_path / "rx") as rx:
        cfg = relay_config(tmp_path, rx, "romfs.universe")
        with Board(flash, "-i", str(ROMBOARD)) as vb:
            r = tspush(
                "deploy", "--port", vb.url, "--config", str(cfg), "--board", "esp8266",
                timeout_s=240,
            )  # fmt: skip
        out = r.stdout + r.stderr
        assert r.returncode == 0, out
        assert "ROMFS image of" in out and "run from /rom" in out, out
        assert rx.write_token is not None and rx.write_token not in out
        image = (flash / "romfs.img").read_bytes()
        assert image[:3] == b"\xd2\xcd\x31"  # the ROMFS magic
        # exactly what this config needs: no other formats, sensors, pins or set-up page
        assert b"opentsdb.mpy" in image and b"constant.mpy" in image
        for left_out in ("influx", "warp10", "bme280", "dhtxx", "portal", "fingerprint", "boot"):
            assert (left_out + ".mpy").encode() not in image, left_out
        # tracebacks name the file on the board (mpy-cross -s)
        assert b"/rom/lib/tspush/core/http.mpy" in image
        assert not (flash / "lib/tspush").exists()
        assert (flash / "main.py").read_bytes() == (ROOT / "src/tspush/device/main.py").read_bytes()
        assert json.loads((flash / "config.json").read_text())["token"] == rx.write_token

        t0 = int(time.time())
        with Board(flash, str(ROMBOARD), "boot") as vb:
            r = tspush(
                "monitor", "--port", vb.url, "--until", "done:", "--timeout-s", "60", timeout_s=90
            )
        log = r.stdout
        assert r.returncode == 0, log + r.stderr
        assert "TLS: none: plain HTTP" in log and log.count("http: 204") == 2, log
        before = int(re.search(r"boot: (\d+) bytes in use before the app", log).group(1))  # type: ignore[union-attr]
        rest = int(re.search(r"memory: \d+ bytes free, (\d+) in use at rest", log).group(1))  # type: ignore[union-attr]
        assert 0 < rest - before <= AT_REST_MAX_BYTES, (rest - before, log)

        req = urllib.request.Request(
            rx.url + f"/api/query?start={t0 - 5}&m=none:romfs.universe",
            headers=rx.read_headers(),
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            series = json.loads(resp.read())
        assert series[0]["tags"] == {"board": "d1mini"}
        assert list(series[0]["dps"].values()) == [42, 42]


def test_esp8266_without_romfs_is_refused_naming_the_firmware(tmp_path: Path, tspush: Run) -> None:
    flash = tmp_path / "flash"
    flash.mkdir()
    with ReceiverProcess(tmp_path / "rx") as rx:
        cfg = relay_config(tmp_path, rx, "x")
        with Board(flash) as vb:  # the plain unix port: no vfs.rom_ioctl, no partition
            r = tspush(
                "deploy", "--port", vb.url, "--config", str(cfg), "--board", "esp8266",
                timeout_s=120,
            )  # fmt: skip
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FLASH_2M_ROMFS" in r.stderr and "tspush flash" in r.stderr, r.stderr
    assert list(flash.iterdir()) == []  # nothing installed that cannot start


def test_esp8266_https_with_a_ca_is_refused_at_deploy(tmp_path: Path, tspush: Run) -> None:
    certs = make_certs(tmp_path / "pki")
    cfg = tmp_path / "tspush.toml"
    cfg.write_text(
        '[output]\nurl = "https://db.example/api/put"\ntoken = "abc-123-token"\n'
        f'ca_file = "{certs.ca_file}"\n'
    )
    cfg.chmod(0o600)
    r = tspush(
        "deploy", "--port", "socket://127.0.0.1:1", "--config", str(cfg), "--board", "esp8266"
    )
    assert r.returncode == 2, r.stdout + r.stderr
    assert "ca_file" in r.stderr and "ESP8266 cannot verify certificates" in r.stderr
    assert "http://" in r.stderr and "abc-123-token" not in r.stderr


def test_freeze_manifest_lists_the_board_modules() -> None:
    from tspush.cli.deploy import HOST_ONLY, package_files

    text = (ROOT / "tools/firmware/manifest.py").read_text()
    listed = re.findall(r'^module\("([^"]+)", base_path="../../src"\)$', text, re.M)
    want = [
        rel[len("lib/") :]
        for src, rel in package_files()
        if rel.startswith("lib/") and src.name not in HOST_ONLY
    ]
    assert listed == want
    for m in listed:
        assert (ROOT / "tools/firmware" / "../../src" / m).resolve().is_file(), m


def test_relay_app_names_at_rest_stay_bounded(tmp_path: Path) -> None:
    """The ROMFS relay app, set-up only, interns at most ``AT_REST_MAX_NAMES`` names."""
    from tspush.cli.deploy import build_romfs, needed_files, stage
    from tspush.device.config import check

    cfg = check(
        {
            "url": "http://127.0.0.1:9/api/put",
            "cycles": 1,
            "boot_delay_s": 0,
            "ntp_host": "",
            "watchdog_s": 0,
            "tags": {"board": "unix"},
            "sensors": [{"type": "constant", "metric": "universe", "value": 42}],
        }
    )
    cfg["complete"] = True  # as tspush deploy writes it
    stage(tmp_path / "stage", "unix", mount="/rom/", files=needed_files(cfg))
    build_romfs(tmp_path / "stage", tmp_path / "romfs.img")
    run = tmp_path / "run"
    run.mkdir()
    shutil.copyfile(tmp_path / "romfs.img", run / "romfs.img")
    (run / "config.json").write_text(json.dumps(cfg))
    env = dict(os.environ)
    env.pop("MICROPYPATH", None)
    r = subprocess.run(
        [MICROPYTHON, "-X", "heapsize=1M", str(ROOT / "tests/device/romrun.py"), "rest"],
        cwd=run,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "rest: ok" in out, out
    assert "TLS: none: plain HTTP to 127.0.0.1" in out, out  # the relay config, from /rom
    names = int(re.search(r"n_qstr=(\d+)", out).group(1))  # type: ignore[union-attr]
    assert 0 < names <= AT_REST_MAX_NAMES, (names, out[-1500:])
