"""``tspush demo``: one command shows live data in the dashboard, and Ctrl-C stops it cleanly."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import urllib3
from test_dashboard_browser import dump_dom, paths

from support.ports import free_port


def test_demo_live_data_in_dashboard_then_ctrl_c(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", free_port()))
    taken.listen(1)
    busy_port = taken.getsockname()[1]
    started = time.monotonic()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tspush.cli.main",
            "demo",
            "--no-browser",
            "--interval",
            "2",
            "--port",
            str(busy_port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    lines: list[str] = []
    got_204 = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.strip() == "http: 204":
                got_204.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert got_204.wait(30), "".join(lines)
        assert time.monotonic() - started < 15  # first sample pushed at once, not after 2 s
        text = "".join(lines)
        m = re.search(r"dashboard: (http://127\.0\.0\.1:(\d+)/#m=universe)", text)
        assert m, text
        dashboard, port = m.group(1), int(m.group(2))
        assert port != busy_port  # 4242 or the asked port was taken: another free port
        assert re.search(rf"POST 127\.0\.0\.1:{port}/api/put\n", text)
        assert '[{"metric":"universe","value":42,"tags":{}}' in text
        db = re.search(r"database: (\S+)", text)
        assert db and Path(db.group(1)).exists()
        # the dashboard, as the printed link opens it, shows the universe line
        dom = dump_dom(dashboard, tmp_path / "chrome", budget_ms=4000)
        (line,) = [p for p in paths(dom) if p.get("class") == "series"]
        assert line["data-series"] == "universe{}" and line["data-last"] == "42"
        r = urllib3.request(
            "GET", f"http://127.0.0.1:{port}/api/query?start=1m-ago&m=sum:sys.mem.used_percent"
        )
        assert r.status == 200 and json.loads(r.data)[0]["tags"]["host"]
        # reads are open on the loopback demo, writes still need its (unprinted) token
        r = urllib3.request(
            "POST", f"http://127.0.0.1:{port}/api/put", body=b'{"metric":"x","value":1}'
        )
        assert r.status == 401
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            rc = proc.wait(20)
        finally:
            if proc.poll() is None:
                proc.kill()
        reader.join(5)
        taken.close()
    text = "".join(lines)
    assert rc == 0, text
    assert "Traceback" not in text and "Aborted" not in text
    assert "tspush demo: stopped" in text
    assert db and not Path(db.group(1)).exists()  # the temporary database is removed
