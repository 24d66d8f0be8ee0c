"""The board loses nothing: every reading taken is stored once, with its true time.

Each scenario runs the whole board app under the MicroPython unix port
(``tests/device/boardrun.py``) as an ESP32 on its emulated RTC, which starts
"not set" at power-on and keeps counting through deep sleep, against a real
``tspush serve``; the readings are read back from it. Faults come from the
shims (no Wi-Fi, NTP blocked, sensor errors), from the server being down,
or from a proxy that swallows the server's answers. Each prints
``scenario NAME: taken T, stored S, posted P, lost L`` (docs/hardware.md).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import urllib3

from support.ports import free_port
from support.receiver import ReceiverProcess

ROOT = Path(__file__).resolve().parents[2]
MICROPYTHON = str(Path(sys.executable).parent / "micropython")
BOARDRUN = ROOT / "tests/device/boardrun.py"
TOKEN = "scenario-device-token-42"
INTERVAL_S = 2  # timestamps are whole seconds: 2 s keeps a reading's second its own


def flash(tmp_path: Path, url: str, cfg: dict[str, Any], shims: dict[str, Any]) -> Path:
    d = tmp_path / "flash"
    d.mkdir(exist_ok=True)
    base = {
        "url": url,
        "token": TOKEN,
        "boot_delay_s": 0,
        "interval_s": INTERVAL_S,
        "watchdog_s": 30,
        "wifi_timeout_s": 2,
        "provision": False,
        "ntp_host": "pool.ntp.org",
        "tags": {"board": "emu"},
    }
    (d / "config.json").write_text(json.dumps({**base, **cfg}))
    (d / "shims.json").write_text(json.dumps({"board": {"port": "esp32", "rtc": True}, **shims}))
    return d


def boot(d: Path, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MICROPYTHON, "-X", "heapsize=1M", str(BOARDRUN)],
        cwd=d,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def boots(d: Path, most: int) -> str:
    """Run boots until one ends without deep sleep; all their serial output."""
    out = ""
    for _ in range(most):
        r = boot(d)
        out += r.stdout
        assert r.returncode in (0, 3), r.stdout + r.stderr
        assert "crash:" not in r.stdout and "Traceback" not in r.stderr, r.stdout + r.stderr
        if r.returncode == 0:
            return out
    raise AssertionError("still deep sleeping after %d boots:\n%s" % (most, out[-3000:]))


def read_back(rx: ReceiverProcess, metric: str, start: int) -> dict[str, dict[str, Any]]:
    r = urllib3.request(
        "GET",
        rx.url + f"/api/query?start={start}&m=none:{metric}",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert r.status == 200, r.data
    return {json.dumps(s["tags"], sort_keys=True): s["dps"] for s in json.loads(r.data)}


def posted(out: str) -> int:
    n = 0
    for line in out.splitlines():
        if line.startswith("POST ") and "points" in line:
            n += int(line.split("(")[1].split()[0])
    return n


def check(
    name: str, rx: ReceiverProcess, out: str, t0: int, taken: int, lost: int = 0
) -> dict[str, Any]:
    """Every reading taken and not counted lost is stored once, inside the run, as 42."""
    t1 = int(time.time()) + 1
    dps = read_back(rx, "universe", t0 - 3600).get(json.dumps({"board": "emu"}), {})
    stamps = sorted(int(ts) for ts in dps)
    assert len(stamps) == taken - lost, (name, len(stamps), taken, lost, out[-3000:])
    assert set(dps.values()) == {42}
    assert all(t0 <= ts <= t1 for ts in stamps), (name, t0, stamps, t1)
    # on the schedule: consecutive readings INTERVAL_S apart (a gap only where a boot was slow)
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert all(g >= 1 for g in gaps), gaps
    sent = posted(out)
    print(
        f"scenario {name}: taken {taken}, stored {len(stamps)}, posted {sent}, lost {lost}",
        file=sys.stderr,
    )
    return {"stamps": stamps, "posted": sent}


def receiver(tmp_path: Path, *args: str) -> ReceiverProcess:
    return ReceiverProcess(tmp_path, "--token", TOKEN, "--quiet", *args)


def test_normal(tmp_path: Path) -> None:
    with receiver(tmp_path) as rx:
        d = flash(tmp_path, rx.url + "/api/put", {"cycles": 6}, {})
        t0 = int(time.time())
        out = boots(d, 1)
        assert "boot: last reset: PWRON_RESET (power on)" in out
        assert "set by NTP pool.ntp.org" in out
        check("normal", rx, out, t0, 6)


def test_ntp_dead_first_half_the_servers_date_sets_the_clock(tmp_path: Path) -> None:
    t0 = int(time.time())
    with receiver(tmp_path) as rx:
        d = flash(tmp_path, rx.url + "/api/put", {"cycles": 8}, {"ntptime": {"fail_until": t0 + 8}})
        out = boots(d, 1)
        assert "warning: NTP pool.ntp.org did not answer" in out
        assert "set by the server's Date header" in out
        check("ntp-dead-first-half", rx, out, t0, 8)


def test_wifi_outage_from_power_on_readings_dated_once_it_is_back(tmp_path: Path) -> None:
    t0 = int(time.time())
    with receiver(tmp_path) as rx:
        d = flash(
            tmp_path,
            rx.url + "/api/put",
            {"cycles": 10},
            {"network": {"down": [[t0 - 5, t0 + 9]]}},
        )
        out = boots(d, 1)
        assert "Wi-Fi: not joined; readings are kept and sent later" in out
        assert "readings taken before the clock was set get RTC time +" in out
        res = check("wifi-outage", rx, out, t0, 10)
        # Sampling went on while the board tried to join (2 s a try): had it stopped,
        # the 10 readings would span about 10 * (2 + 2) s. Slack for a loaded machine.
        assert res["stamps"][-1] - res["stamps"][0] <= 9 * INTERVAL_S + 8


def test_server_down_then_up(tmp_path: Path) -> None:
    port = free_port()
    d = flash(tmp_path, f"http://127.0.0.1:{port}/api/put", {"cycles": 10}, {})
    t0 = int(time.time())
    proc = subprocess.Popen(
        [MICROPYTHON, "-X", "heapsize=1M", str(BOARDRUN)],
        cwd=d,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    seen = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "error: connect while sending" in line:
                seen.set()

    t = threading.Thread(target=pump, daemon=True)
    t.start()
    try:
        assert seen.wait(60), "".join(lines)
        with receiver(tmp_path, "--port", str(port)) as rx:
            assert proc.wait(120) == 0, "".join(lines)
            t.join(10)
            out = "".join(lines)
            assert "point(s) kept, retry" in out
            check("server-down", rx, out, t0, 10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


class AnswerEater:
    """A loopback TCP proxy that, for its first ``eat`` connections, delivers the request
    to the server and then closes the board's side without its answer."""

    def __init__(self, upstream_port: int, eat: int) -> None:
        self.upstream_port = upstream_port
        self.eat = eat
        self.eaten = 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._conn, args=(c,), daemon=True).start()

    def _conn(self, c: socket.socket) -> None:
        u = socket.create_connection(("127.0.0.1", self.upstream_port))
        eat = self.eaten < self.eat
        if eat:
            self.eaten += 1

        def up() -> None:
            try:
                while data := c.recv(65536):
                    u.sendall(data)
            except OSError:
                pass
            u.close()

        threading.Thread(target=up, daemon=True).start()
        try:
            while data := u.recv(65536):
                if eat:  # the server answered; the board never hears it
                    c.shutdown(socket.SHUT_RDWR)
                    break
                c.sendall(data)
        except OSError:
            pass
        c.close()
        u.close()

    def close(self) -> None:
        self.sock.close()


def test_lost_answers_are_sent_again_and_stored_once(tmp_path: Path) -> None:
    with receiver(tmp_path) as rx:
        proxy = AnswerEater(int(rx.url.rsplit(":", 1)[1]), eat=2)
        try:
            d = flash(tmp_path, f"http://127.0.0.1:{proxy.port}/api/put", {"cycles": 8}, {})
            t0 = int(time.time())
            out = boots(d, 1)
        finally:
            proxy.close()
        assert proxy.eaten == 2
        res = check("lost-answers", rx, out, t0, 8)
        assert res["posted"] > 8  # the batches whose answer was lost went again


def test_deep_sleep_duty_cycle_over_12_boots(tmp_path: Path) -> None:
    t0 = int(time.time())
    with receiver(tmp_path) as rx:
        d = flash(
            tmp_path,
            rx.url + "/api/put",
            {"cycles": 12, "deep_sleep": True, "wifi_every": 3},
            {"ntptime": {"fail_until": t0 + 4}, "network": {"down": [[t0 - 5, t0 + 3]]}},
        )
        out = boots(d, 14)
        assert out.count("boot: last reset: DEEPSLEEP_RESET (waking from deep sleep)") == 11
        assert out.count("sleep: deep sleep") == 11
        check("deep-sleep-12-boots", rx, out, t0, 12)


def test_dht_checksum_error_on_every_read(tmp_path: Path) -> None:
    with receiver(tmp_path) as rx:
        d = flash(
            tmp_path,
            rx.url + "/api/put",
            {"cycles": 5, "sensors": [{"type": "dht", "pin": 4}, {"type": "constant"}]},
            {"dht": {"fail": "checksum"}},
        )
        t0 = int(time.time())
        out = boots(d, 1)
        assert out.count("sensor: DHT22 on pin 4: bad reading (checksum error): check") == 5
        check("dht-checksum-every-read", rx, out, t0, 5)
        errs = read_back(rx, "board.sensor_errors", t0 - 5)
        key = json.dumps({"board": "emu", "sensor": "DHT22_on_pin_4"}, sort_keys=True)
        assert sorted(errs[key].values()) == [1, 2, 3, 4, 5]


def test_ds18b20_crc_error(tmp_path: Path) -> None:
    with receiver(tmp_path) as rx:
        d = flash(
            tmp_path,
            rx.url + "/api/put",
            {"cycles": 4, "sensors": [{"type": "ds18b20", "pin": 5}, {"type": "constant"}]},
            {"ds18x20": {"fail": "crc"}},
        )
        t0 = int(time.time())
        out = boots(d, 1)
        assert "sensor: DS18B20 on pin 5: bus error (Exception: CRC error): check the wiring" in out
        check("ds18b20-crc-error", rx, out, t0, 4)
        errs = read_back(rx, "board.sensor_errors", t0 - 5)
        key = json.dumps({"board": "emu", "sensor": "DS18B20_on_pin_5"}, sort_keys=True)
        assert sorted(errs[key].values()) == [1, 2, 3, 4]


def test_power_cut_before_any_sync_the_undatable_readings_are_counted(tmp_path: Path) -> None:
    t0 = int(time.time())
    with receiver(tmp_path) as rx:
        d = flash(
            tmp_path,
            rx.url + "/api/put",
            {"cycles": 3, "deep_sleep": True},
            {"network": {"down": [[t0 - 5, t0 + 3600]]}},
        )
        out = boots(d, 4)  # three readings on flash, the clock never set
        (d / "hw.json").unlink()  # the power goes: RTC and its memory are gone
        cfg = json.loads((d / "shims.json").read_text())
        cfg["network"]["down"] = []
        (d / "shims.json").write_text(json.dumps(cfg))
        out += boots(d, 4)
        assert (
            "warning: time: 3 reading(s) taken before a power cut, while the clock was never "
            "set, cannot be dated: not sent, kept in the dead-letter file (3 so far)" in out
        )
        dead = (d / "spool" / "dead-letter.jsonl").read_text().splitlines()
        assert len(dead) == 3 and all("before any clock sync" in x for x in dead)
        check("power-cut-before-sync", rx, out, t0, 6, lost=3)
