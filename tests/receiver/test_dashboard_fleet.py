"""The fleet view and the overview in headless Chromium: a silent board stands out, its
health metrics show, every metric gets a small chart. Screenshots are kept as proof."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3
from test_dashboard_browser import CHROMIUM, FLAGS, dump_dom

from support.receiver import ReceiverProcess


@pytest.fixture(scope="module")
def rx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReceiverProcess]:
    with ReceiverProcess(tmp_path_factory.mktemp("fleet")) as r:
        now = int(time.time())
        pts = []
        for i in range(30):  # "demo": every 10 s up to now, with its health metrics
            ts = now - 290 + 10 * i
            pts.append(
                {
                    "metric": "room.temp",
                    "value": 20 + i / 10,
                    "timestamp": ts,
                    "tags": {"host": "demo"},
                }
            )
            pts.append(
                {
                    "metric": "board.heap_free_bytes",
                    "value": 31000 - i,
                    "timestamp": ts,
                    "tags": {"host": "demo"},
                }
            )
            pts.append(
                {
                    "metric": "board.rssi_dbm",
                    "value": -61,
                    "timestamp": ts,
                    "tags": {"host": "demo"},
                }
            )
        for i in range(30):  # "quiet": every 10 s, then nothing for 15 minutes
            pts.append(
                {
                    "metric": "room.temp",
                    "value": 18.5,
                    "timestamp": now - 1200 + 10 * i,
                    "tags": {"host": "quiet"},
                }
            )
        pts.append(
            {
                "metric": "board.reset_cause",
                "value": 4,
                "timestamp": now - 900,
                "tags": {"host": "quiet"},
            }
        )
        resp = urllib3.request(
            "POST", r.url + "/api/put", body=json.dumps(pts).encode(), headers=r.write_headers()
        )
        assert resp.status == 204, resp.data
        yield r


def screenshot(url: str, profile_dir: Path, png: Path) -> None:
    out = subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={profile_dir}",
            "--virtual-time-budget=5000",
            "--window-size=1200,800",
            f"--screenshot={png}",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert out.returncode == 0, out.stderr[-2000:]


def rows(dom: str) -> dict[str, list[str]]:
    out = {}
    for m in re.finditer(r'<tr class="[^"]*" data-host="([^"]+)">(.*?)</tr>', dom):
        out[m.group(1)] = re.findall(r"<td>(.*?)</td>", m.group(2))
    return out


def test_the_fleet_api_names_the_silent_board(rx: ReceiverProcess) -> None:
    r = urllib3.request("GET", rx.url + "/api/fleet", headers=rx.read_headers())
    assert r.status == 200
    hosts = {h["host"]: h for h in json.loads(r.data)}
    assert hosts["quiet"]["silent"] is True and hosts["demo"]["silent"] is False
    assert hosts["demo"]["interval_s"] == 10.0
    assert hosts["demo"]["health"] == {"heap_free_bytes": 30971, "rssi_dbm": -61}
    assert hosts["quiet"]["health"] == {"reset_cause": 4}
    assert hosts["demo"]["points_per_hour"] == 90 and hosts["quiet"]["points_per_hour"] == 31
    assert urllib3.request("GET", rx.url + "/api/fleet").status == 401


def test_fleet_view_in_chromium(rx: ReceiverProcess, tmp_path: Path) -> None:
    url = f"{rx.url}/?token={rx.read_token}#v=fleet"
    dom = dump_dom(url, tmp_path / "chrome")
    got = rows(dom)
    assert got["quiet"][:2] == ["quiet", "silent"] and got["demo"][:2] == ["demo", "ok"]
    assert got["demo"][4] == "10 s" and got["demo"][6] == "-61 dBm"
    assert got["quiet"][7] == "4"
    assert list(got) == ["quiet", "demo"]  # silent boards first
    assert 'class="silent" data-host="quiet"' in dom
    assert "2 device(s), 1 silent" in dom
    png = tmp_path / "fleet.png"
    screenshot(url, tmp_path / "chrome2", png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_overview_draws_a_small_chart_per_metric(rx: ReceiverProcess, tmp_path: Path) -> None:
    url = f"{rx.url}/?token={rx.read_token}#r=1h&v=overview"
    dom = dump_dom(url, tmp_path / "chrome")
    cards = dict(re.findall(r'<figure id="ov-([^"]+)" class="card" data-series="(\d+)"', dom))
    assert cards == {
        "board.heap_free_bytes": "1",
        "board.reset_cause": "1",
        "board.rssi_dbm": "1",
        "room.temp": "2",
    }
    assert dom.count('class="spark"') == 5  # one line per series
    png = tmp_path / "overview.png"
    screenshot(url, tmp_path / "chrome2", png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
