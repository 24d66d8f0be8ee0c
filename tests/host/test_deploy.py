"""``tspush deploy`` and ``tspush monitor`` against a virtual board, for real.

The virtual board is the MicroPython unix port behind a pseudo-serial link:
``socat TCP-LISTEN:PORT,fork EXEC:micropython,pty,raw,echo=0`` (one interpreter per
connection: deploy asks `mpremote romfs query` first, then copies); mpremote and
pyserial reach it as ``socket://127.0.0.1:PORT``. Its working directory
plays the board's flash, so the test reads what landed there directly.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.ports import free_port
from support.receiver import ReceiverProcess
from support.tls import Certs, make_certs
from tspush.cli import deploy as deploy_mod

ROOT = Path(__file__).resolve().parents[2]
MICROPYTHON = str(Path(sys.executable).parent / "micropython")
SHIMS = ROOT / "tests/device/shims"
Run = Callable[..., subprocess.CompletedProcess[str]]


class VirtualBoard:
    """The unix port on a pseudo-serial link; ``args`` run a script instead of the REPL."""

    def __init__(self, flash: Path, *args: str) -> None:
        if shutil.which("socat") is None:
            pytest.fail("socat is not installed: run tools/test (it installs it)")
        self.port = free_port()
        cmd = " ".join([MICROPYTHON, "-X", "heapsize=2M", *args])
        env = dict(os.environ, MICROPYPATH=f":{flash}/lib:{SHIMS}")
        self.proc = subprocess.Popen(
            [
                "socat",
                f"TCP-LISTEN:{self.port},bind=127.0.0.1,reuseaddr,fork",
                f"EXEC:{cmd},pty,raw,echo=0,stderr",
            ],
            cwd=flash,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.url = f"socket://127.0.0.1:{self.port}"

    def wait(self) -> None:
        # socat accepts one connection; probing it would use that up, so poll for the listener.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            out = subprocess.run(["ss", "-ltn"], capture_output=True, text=True).stdout
            if f"127.0.0.1:{self.port} " in out:
                return
            time.sleep(0.05)
        raise TimeoutError("socat is not listening")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> VirtualBoard:
        self.wait()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture
def certs(tmp_path: Path) -> Certs:
    return make_certs(tmp_path / "pki")


@pytest.fixture
def receiver(tmp_path: Path, certs: Certs) -> Iterator[ReceiverProcess]:
    with ReceiverProcess(
        tmp_path, "--tls", "--cert", str(certs.cert_file), "--key", str(certs.key_file)
    ) as rx:
        yield rx


def host_config(tmp_path: Path, rx: ReceiverProcess, certs: Certs) -> Path:
    p = tmp_path / "tspush.toml"
    p.write_text(
        f"""
[output]
url = "{rx.url}/api/put"
token = "{rx.write_token}"
profile = "tspush"
ca_file = "{certs.ca_file}"

[tags]
board = "virtual"

[board]
interval_s = 1
cycles = 2
boot_delay_s = 0
ntp_host = ""
watchdog_s = 0
sensors = [{{type = "constant", metric = "universe", value = 42}}, {{type = "internal"}}]
"""
    )
    p.chmod(0o600)
    return p


def test_deploy_then_monitor_on_a_virtual_board(
    tmp_path: Path, tspush: Run, receiver: ReceiverProcess, certs: Certs
) -> None:
    flash = tmp_path / "flash"
    flash.mkdir()
    cfg = host_config(tmp_path, receiver, certs)
    stale = flash / "lib/tspush/core/http.py"  # left by an earlier source install
    stale.parent.mkdir(parents=True)
    stale.write_text("raise ImportError('stale module imported')\n")
    with VirtualBoard(flash) as vb:
        r = tspush(
            "deploy", "--port", vb.url, "--config", str(cfg), "--board", "esp32", timeout_s=240
        )
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert receiver.write_token not in out
    assert "mpy-cross -march=xtensawin" in out and "board reset" in out
    # every board module landed, compiled; boot.py and main.py as source at the root
    for src, rel in deploy_mod.package_files():
        if rel.startswith("lib/"):
            landed = flash / rel.replace(".py", ".mpy")
            assert landed.read_bytes()[:1] == b"M", rel  # the .mpy magic
        else:
            assert (flash / rel).read_bytes() == src.read_bytes()
    assert not stale.exists()
    board_cfg = json.loads((flash / "config.json").read_text())
    assert board_cfg["token"] == receiver.write_token
    assert board_cfg["url"] == receiver.url + "/api/put"
    assert board_cfg["tls_verify"] == "ca" and board_cfg["tls_ca"] == "ca.der"
    assert board_cfg["tags"] == {"board": "virtual"} and board_cfg["cycles"] == 2
    # checked and completed on the computer: the board reads it without its config module
    assert board_cfg["complete"] is True and board_cfg["spool_max_bytes"] == 65536
    assert (flash / "ca.der").read_bytes() == ssl.PEM_cert_to_DER_cert(certs.ca_file.read_text())

    # The board "boots": main.py runs the deployed .mpy files; monitor shows its log.
    # A real board stays powered after the app's last line; so does this one, for a
    # moment, or the pty would close before socat has passed the last lines on.
    (flash / "power.py").write_text("import main\nimport time\ntime.sleep(3)\n")
    t0 = int(time.time())
    with VirtualBoard(flash, "power.py") as vb:
        r = tspush(
            "monitor", "--port", vb.url, "--until", "done:", "--timeout-s", "60", timeout_s=90
        )
    out = r.stdout
    assert r.returncode == 0, out + r.stderr
    stamped = re.compile(r"^\d\d:\d\d:\d\d\.\d{3}  (.*)$")
    lines = [stamped.match(x) for x in out.splitlines()]
    assert all(lines), out
    text = [m.group(1) for m in lines if m]
    assert "TLS: verify the server with CA ca.der" in text
    assert "IP address: 127.0.0.1" in text
    assert text.count("http: 204") == 2
    assert any(t.startswith("done: 2 cycle(s)") for t in text)
    assert receiver.write_token not in out

    import urllib3

    pool = urllib3.PoolManager(ca_certs=str(certs.ca_file))
    q = pool.request(
        "GET",
        receiver.url + f"/api/query?start={t0 - 5}&m=none:universe",
        headers=receiver.read_headers(),
    )
    series = json.loads(q.data)
    assert series[0]["tags"] == {"board": "virtual"}
    assert list(series[0]["dps"].values()) == [42, 42]


def test_deploy_errors_name_the_problem(tmp_path: Path, tspush: Run, certs: Certs) -> None:
    cfg = tmp_path / "tspush.toml"
    cfg.write_text('[output]\nurl = "https://db.example/api/put"\ntoken = "abc-123-token"\n')
    cfg.chmod(0o600)
    r = tspush("deploy", "--port", "socket://127.0.0.1:1", "--config", str(cfg))
    assert r.returncode == 2
    assert "ca_file" in r.stderr and "abc-123-token" not in r.stderr
    r = tspush(
        "deploy", "--port", "socket://127.0.0.1:1", "--config", str(cfg), "--board", "esp8266"
    )
    assert "ESP8266 cannot verify certificates" in r.stderr
    cfg.write_text(
        f'[output]\nurl = "https://db.example/api/put"\ntoken = "abc-123-token"\n'
        f'ca_file = "{certs.ca_file}"\n[board]\nintervall_s = 5\n'
    )
    r = tspush("deploy", "--port", "socket://127.0.0.1:1", "--config", str(cfg))
    assert r.returncode == 2
    assert "intervall_s: unknown key" in r.stderr
    # A port nothing listens on: mpremote fails, the message says what to check.
    cfg.write_text(
        f'[output]\nurl = "https://db.example/api/put"\ntoken = "abc-123-token"\n'
        f'ca_file = "{certs.ca_file}"\n'
    )
    r = tspush(
        "deploy", "--port", f"socket://127.0.0.1:{free_port()}", "--config", str(cfg), "--source"
    )
    assert r.returncode == 1
    assert "mpremote failed" in r.stderr and "abc-123-token" not in r.stderr + r.stdout


def test_every_board_module_compiles_for_every_board(tmp_path: Path) -> None:
    for board in deploy_mod.BOARDS:
        placed = deploy_mod.stage(tmp_path / board, board)
        assert "lib/tspush/device/sensors/bme280.mpy" in placed
        assert "main.py" in placed and "boot.py" in placed


def test_package_json_lists_every_board_file() -> None:
    doc = json.loads((ROOT / "package.json").read_text())
    urls = {target: src for target, src in doc["urls"]}
    want = {
        rel[len("lib/") :]: src for src, rel in deploy_mod.package_files() if rel.startswith("lib/")
    }
    assert set(urls) == set(want)
    for target, src in urls.items():
        assert (ROOT / src).resolve() == want[target].resolve()
    assert doc["version"] == __import__("tspush").__version__


def test_mip_install_from_the_local_package_json(tmp_path: Path) -> None:
    flash = tmp_path / "flash"
    flash.mkdir()
    with VirtualBoard(flash) as vb:
        r = subprocess.run(
            [
                str(Path(sys.executable).parent / "mpremote"),
                "connect",
                vb.url,
                "resume",
                "mip",
                "install",
                "--target",
                "lib",
                str(ROOT / "package.json"),
            ],
            capture_output=True,
            text=True,
            timeout=240,
        )
    assert r.returncode == 0, r.stdout + r.stderr
    assert (flash / "lib/tspush/core/http.py").read_bytes() == (
        ROOT / "src/tspush/core/http.py"
    ).read_bytes()
    assert (flash / "lib/tspush/device/sensors/bme280.py").exists()


def test_monitor_bad_port_says_what_to_check(tspush: Run) -> None:
    r = tspush("monitor", "--port", "/dev/does-not-exist-tspush")
    assert r.returncode == 1
    assert "cannot open /dev/does-not-exist-tspush" in r.stderr
    assert "check the port name" in r.stderr


def test_sample_config_documents_every_board_key() -> None:
    from tspush.device.config import DEFAULTS

    text = (ROOT / "src/tspush/sample-config.toml").read_text()
    part = text[text.index("# [board]\n") :]
    from_output = {
        "url",
        "token",
        "auth",
        "user",
        "fingerprint",
        "tls_ca",
        "tags",
        "max_points",
        "max_bytes",
        "complete",  # deploy's own mark, not a setting
    }
    for key in DEFAULTS:
        if key not in from_output:
            assert f"\n# {key} = " in part, key
