"""The dashboard in a real browser (headless Chromium): the pushed series is drawn.

Chromium opens ``/?token=READ_TOKEN#m=metric`` exactly as a person clicking
the printed link would: the server swaps the token for an HttpOnly cookie and
redirects, the page's own script queries ``/api/query`` and draws SVG.
The test reads the DOM Chromium ends with.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3

from support.receiver import ReceiverProcess
from tspush.receiver.dashboard import STATIC_DIR

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def dump_dom(url: str, profile_dir: Path, budget_ms: int = 5000) -> str:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: run tools/test (it installs it)")
    out = subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={profile_dir}",
            f"--virtual-time-budget={budget_ms}",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


@pytest.fixture(scope="module")
def rx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReceiverProcess]:
    with ReceiverProcess(tmp_path_factory.mktemp("dash")) as r:
        now = int(time.time())
        pts = [
            {
                "metric": "universe",
                "value": 42,
                "timestamp": now - 290 + 10 * i,
                "tags": {"host": "demo"},
            }
            for i in range(30)
        ]
        pts += [
            {
                "metric": "cpu.load",
                "value": i % 7,
                "timestamp": now - 290 + 10 * i,
                "tags": {"host": "demo", "core": c},
            }
            for i in range(30)
            for c in ("0", "1")
        ]
        resp = urllib3.request(
            "POST", r.url + "/api/put", body=json.dumps(pts).encode(), headers=r.write_headers()
        )
        assert resp.status == 204
        yield r


def paths(dom: str) -> list[dict[str, str]]:
    out = []
    for m in re.finditer(r"<path ([^>]*)>", dom):
        out.append(dict(re.findall(r'([\w-]+)="([^"]*)"', m.group(1))))
    return out


def test_chart_shows_the_pushed_series(rx: ReceiverProcess, tmp_path: Path) -> None:
    dom = dump_dom(f"{rx.url}/?token={rx.read_token}#m=universe", tmp_path / "chrome")
    (line,) = [p for p in paths(dom) if p.get("class") == "series"]
    assert line["data-series"] == "universe{host=demo}"
    assert line["data-points"] == "30" and line["data-last"] == "42"
    coords = [tuple(map(float, c.split())) for c in re.findall(r"[ML]([\d.]+ [\d.]+)", line["d"])]
    assert len(coords) == 30
    xs = [c[0] for c in coords]
    assert xs == sorted(xs) and len(set(xs)) == 30  # 30 distinct times, left to right
    assert len({c[1] for c in coords}) == 1  # a constant 42 is a flat line
    assert 'data-metric="cpu.load"' in dom and 'data-metric="universe"' in dom
    assert "<td>universe{host=demo}</td><td>42</td>" in dom


def test_one_line_per_tag_set_and_range_in_hash(rx: ReceiverProcess, tmp_path: Path) -> None:
    dom = dump_dom(f"{rx.url}/?token={rx.read_token}#m=cpu.load&r=1h", tmp_path / "chrome")
    lines = [p for p in paths(dom) if p.get("class") == "series"]
    assert sorted(p["data-series"] for p in lines) == [
        "cpu.load{core=0,host=demo}",
        "cpu.load{core=1,host=demo}",
    ]
    assert all(p["data-points"] == "30" for p in lines)
    assert re.search(r'<option value="1h" selected', dom) or 'value="1h"' in dom


def test_without_token_the_page_is_refused(rx: ReceiverProcess, tmp_path: Path) -> None:
    for url in (f"{rx.url}/", f"{rx.url}/?token=wrong"):
        dom = dump_dom(url, tmp_path / "chrome", budget_ms=1000)
        assert "universe" not in dom and "data-series" not in dom
        r = urllib3.request("GET", url, redirect=False)
        assert r.status == 401  # the browser shows its Basic auth prompt
        assert r.headers["WWW-Authenticate"] == 'Basic realm="tspush"'
        assert b"universe" not in r.data
    r = urllib3.request("GET", rx.url + "/", headers=rx.read_headers())
    assert r.status == 200 and b"/static/dashboard.js" in r.data


def test_cookie_is_http_only_and_not_the_token(rx: ReceiverProcess) -> None:
    r = urllib3.request("GET", f"{rx.url}/?token={rx.read_token}", redirect=False)
    assert r.status == 303 and r.headers["Location"] == "/"
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert rx.read_token and rx.read_token not in cookie
    value = cookie.split(";")[0]
    r = urllib3.request("GET", rx.url + "/api/suggest?type=metrics", headers={"Cookie": value})
    assert json.loads(r.data) == ["cpu.load", "universe"]
    r = urllib3.request(
        "POST", rx.url + "/api/put", headers={"Cookie": value}, body=b'{"metric":"x","value":1}'
    )
    assert r.status == 401  # the dashboard cookie only reads


def test_assets_are_ours_and_local() -> None:
    """No CDN, no third-party code: the only URL is the SVG namespace."""
    for f in STATIC_DIR.iterdir():
        text = f.read_text()
        urls = set(re.findall(r"https?://[^\s\"')]+", text))
        assert urls <= {"http://www.w3.org/2000/svg"}, (f, urls)
        assert "Copyright" not in text and "@license" not in text


def test_long_ranges_are_downsampled(rx: ReceiverProcess, tmp_path: Path) -> None:
    dom = dump_dom(f"{rx.url}/?token={rx.read_token}#m=universe&r=24h", tmp_path / "chrome")
    (line,) = [p for p in paths(dom) if p.get("class") == "series"]
    # 30 points over 5 minutes, in 5-minute averages: one or two buckets, still 42
    assert line["data-points"] in ("1", "2") and line["data-last"] == "42"


def _first_x(dom: str) -> float:
    (line,) = [p for p in paths(dom) if p.get("class") == "series"]
    return float(re.match(r"M([\d.]+) ", line["d"]).group(1))  # type: ignore[union-attr]


def test_the_default_range_starts_where_the_data_starts(
    rx: ReceiverProcess, tmp_path: Path
) -> None:
    """Five minutes of data in the default 15-minute view was a stub at the right edge."""
    fresh = _first_x(dump_dom(f"{rx.url}/?token={rx.read_token}#m=universe", tmp_path / "a"))
    chosen = _first_x(dump_dom(f"{rx.url}/?token={rx.read_token}#m=universe&r=15m", tmp_path / "b"))
    assert chosen > 300  # a range the person chose is kept: the data fills its right third
    assert fresh < 150  # the default one starts at the data (plot area from x=84)
