"""Acceptance: `tspush serve` and its dashboard as a new user meets them.

Each test is a defect found by following the README as a user.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from cryptography import x509

from support.receiver import ReceiverProcess

TSPUSH = str(Path(sys.executable).with_name("tspush"))


def serve(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TSPUSH, "serve", "--no-auth", "--db", str(tmp_path / "rx.sqlite"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(tmp_path),
    )


def test_a_host_that_is_not_ours_names_host_not_port(tmp_path):
    r = serve(tmp_path, "--host", "host.invalid", "--port", "0")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith("tspush: error: --host: cannot listen on host.invalid")
    assert "--port" not in r.stderr


def test_a_taken_port_still_names_the_port(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        r = serve(tmp_path, "--port", str(port))
    assert r.returncode == 2
    assert r.stderr.startswith("tspush: error: --port: cannot listen on 127.0.0.1:%d" % port)


def _sans(cert_pem: Path) -> list[str]:
    cert = x509.load_pem_x509_certificate(cert_pem.read_bytes())
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    ips = [str(ip) for ip in ext.get_values_for_type(x509.IPAddress)]
    return ips + ext.get_values_for_type(x509.DNSName)


def test_self_signed_certificate_lists_each_address_once(tmp_path):
    with ReceiverProcess(tmp_path, "--tls") as rx:
        assert rx.url.startswith("https://")
    sans = _sans(tmp_path / "tls" / "cert.pem")
    assert sans.count("127.0.0.1") == 1 and sans.count("::1") == 1
    assert len(sans) == len(set(sans))


def test_self_signed_certificate_for_every_interface_holds_the_lan_addresses(tmp_path):
    """--host 0.0.0.0: a board connects to this machine's LAN address, not to 0.0.0.0."""
    import psutil

    from tspush.receiver import tls

    cert = tls.self_signed(tmp_path / "tls", ["0.0.0.0"])
    sans = _sans(cert.cert_path)
    assert "0.0.0.0" not in sans
    mine = {
        str(ipaddress.ip_address(a.address.split("%")[0]))
        for addrs in psutil.net_if_addrs().values()
        for a in addrs
        if a.family == socket.AF_INET
    }
    assert mine and mine <= set(sans)


class Page:
    """Headless Chromium driven over the DevTools protocol: open a URL, evaluate JS."""

    def __init__(self, url: str, profile_dir: Path) -> None:
        import shutil

        chromium = shutil.which("chromium") or "/usr/bin/chromium"
        self.proc = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--window-size=1200,800",
             f"--user-data-dir={profile_dir}", "--remote-debugging-port=0", url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.ws: Any = None
        self.stack = contextlib.ExitStack()
        self.next_id = 0
        try:
            self._connect(profile_dir / "DevToolsActivePort")
        except BaseException:
            self.close()
            raise

    def _connect(self, port_file: Path) -> None:
        import json
        import urllib.request

        from websockets.sync.client import connect

        for _ in range(300):
            if port_file.is_file() and port_file.read_text().strip():
                break
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        for _ in range(100):
            with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port) as r:
                pages = [t for t in json.load(r) if t.get("type") == "page"]
            if pages:
                break
            time.sleep(0.1)
        ws = connect(pages[0]["webSocketDebuggerUrl"], max_size=None, open_timeout=20)
        self.ws = self.stack.enter_context(ws)

    def js(self, expression: str) -> Any:
        import json

        self.next_id += 1
        self.ws.send(
            json.dumps(
                {
                    "id": self.next_id,
                    "method": "Runtime.evaluate",
                    "params": {"expression": expression, "returnByValue": True},
                }
            )
        )
        while True:
            msg = json.loads(self.ws.recv(timeout=20))
            if msg.get("id") == self.next_id:
                return msg.get("result", {}).get("result", {}).get("value")  # None: not ready

    def wait_for(self, expression: str, timeout_s: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = self.js(expression)
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError("page never showed %s; body: %s" % (expression, self.body()))

    def body(self) -> str:
        return str(self.js("document.body.innerText"))

    def close(self) -> None:
        self.stack.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def test_dashboard_opened_before_any_data_shows_the_first_metric_properly(tmp_path):
    """Open the link first, start the boards second: once data arrives the page must
    name the metric, list its series and put it in the address, not only draw it."""
    import urllib3

    from support.receiver import READ_TOKEN

    with ReceiverProcess(tmp_path / "rx") as rx:
        page = Page(rx.url + "/?token=" + READ_TOKEN, tmp_path / "chromium")
        try:
            page.wait_for("document.getElementById('status').textContent.includes('no data yet')")
            assert page.js("document.getElementById('title').textContent") == "Pick a metric"
            body = b'[{"metric":"universe","value":42,"tags":{"host":"demo"}}]'
            r = urllib3.request("POST", rx.url + "/api/put", body=body,
                                headers={**rx.write_headers(),
                                         "Content-Type": "application/json"})  # fmt: skip
            assert r.status == 204
            page.wait_for("document.querySelector('#chart circle') !== null", 30)
            assert page.js("document.getElementById('title').textContent") == "universe"
            assert page.js("location.hash").startswith("#m=universe")
            options = page.js("[...document.querySelectorAll('#series option')].map(o => o.text)")
            assert options == ["all tag sets (1)", "host=demo"]
            assert page.js("document.querySelector('#metrics button.on').textContent") == (
                "universe"
            )
        finally:
            page.close()


def test_large_values_are_readable_with_units_and_a_hover_readout(tmp_path):
    """A byte counter near 97 GB: axis labels were clipped and identical ('9.719e+10')."""
    import json

    import urllib3

    from support.receiver import READ_TOKEN

    now = int(time.time())
    values = [97_190_800_000 + 100_000 * i for i in range(7)]  # the last is 97.1914 GB
    pts = [
        {"metric": "net.recv_bytes", "value": v, "timestamp": now - 60 + 10 * i, "tags": {}}
        for i, v in enumerate(values)
    ]
    with ReceiverProcess(tmp_path / "rx") as rx:
        headers = {**rx.write_headers(), "Content-Type": "application/json"}
        r = urllib3.request(
            "POST", rx.url + "/api/put", body=json.dumps(pts).encode(), headers=headers
        )
        assert r.status == 204
        page = Page(rx.url + "/?token=" + READ_TOKEN + "#m=net.recv_bytes", tmp_path / "chr")
        try:
            page.wait_for("document.querySelector('#chart path.series') !== null")
            labels = page.js(
                "[...document.querySelectorAll('#chart .ylabel')].map(t => t.textContent)"
            )
            assert len(labels) >= 3 and len(set(labels)) == len(labels), labels
            assert all(label.endswith(" GB") and "e+" not in label for label in labels), labels
            # every label fits left of the plot: none is clipped by the chart's edge
            assert page.js(
                "[...document.querySelectorAll('#chart .ylabel')].every(t => t.getBBox().x >= 0)"
            )
            cells = page.js("[...document.querySelectorAll('#legend td')].map(t => t.textContent)")
            assert cells[1:5] == ["net.recv_bytes{}", "97.1914 GB", "97.1908 GB", "97.1914 GB"]
            readout = page.js(
                """(() => {
                  const svg = document.querySelector('#chart svg');
                  const r = svg.getBoundingClientRect();
                  const last = svg.querySelector('path.series').getAttribute('d').split(' L')
                    .pop().replace('M', '').trim().split(' ');
                  const px = r.left + Number(last[0]) * r.width / 900;
                  svg.dispatchEvent(new MouseEvent('mousemove',
                    {clientX: px, clientY: r.top + r.height / 2, bubbles: true}));
                  const g = svg.querySelector('.readout');
                  return [g.getAttribute('visibility'),
                          [...g.querySelectorAll('text')].map(t => t.textContent)];
                })()"""
            )
            assert readout[0] == "visible"
            assert readout[1][1] == "net.recv_bytes{}  97.1914 GB"
        finally:
            page.close()


def test_a_wrong_or_missing_read_token_gets_a_page_a_person_can_act_on(tmp_path):
    """`tspush serve` prints '/?token=READ_TOKEN'; opened literally it showed raw JSON."""
    import urllib3

    from support.receiver import READ_TOKEN, WRITE_TOKEN

    with ReceiverProcess(tmp_path / "rx") as rx:
        for url in (rx.url + "/?token=READ_TOKEN", rx.url + "/"):
            r = urllib3.request("GET", url, redirect=False)
            assert r.status == 401
            assert r.headers["WWW-Authenticate"] == 'Basic realm="tspush"'
            assert r.headers["Content-Type"].startswith("text/html")
            text = r.data.decode()
            assert "--read-token" in text and "tokens.json" in text
            assert READ_TOKEN not in text and WRITE_TOKEN not in text
        # the API keeps OpenTSDB's JSON error for programs
        r = urllib3.request("GET", rx.url + "/api/suggest?type=metrics")
        assert r.status == 401 and r.json()["error"]["message"] == "Missing token"
        # (a browser asks for Basic auth first; this page is what it shows on Cancel)
        r = urllib3.request("GET", rx.url + "/?token=READ_TOKEN", redirect=False)
        assert "<h2>Invalid token: this dashboard needs the read token</h2>" in r.data.decode()


def test_time_axis_ticks_fall_on_round_local_times(tmp_path):
    """7 days were labelled 11/20, 11/22, 11/23, 11/24, 11/26 (a tick every 33 h 20 min);
    6 hours at 07:20, 09:00, 10:40. Ticks now fall on midnights and whole hours."""
    import json

    import urllib3

    from support.receiver import READ_TOKEN

    now = int(time.time())
    pts = [
        {"metric": "t.axis", "value": i, "timestamp": now - 3600 * i, "tags": {}} for i in range(48)
    ]
    with ReceiverProcess(tmp_path / "rx") as rx:
        headers = {**rx.write_headers(), "Content-Type": "application/json"}
        r = urllib3.request(
            "POST", rx.url + "/api/put", body=json.dumps(pts).encode(), headers=headers
        )
        assert r.status == 204
        expected = {"7d": (86400000, 7), "6h": (3600000, 6), "15m": (300000, 3)}
        for rng, (step_ms, at_least) in expected.items():
            page = Page(rx.url + "/?token=%s#m=t.axis&r=%s" % (READ_TOKEN, rng), tmp_path / rng)
            try:
                page.wait_for("document.querySelector('#chart .xlabel') !== null")
                ticks = page.js(
                    "[...document.querySelectorAll('#chart .xlabel')].map(t => {"
                    " const d = new Date(Number(t.getAttribute('data-t')));"
                    " return [Number(t.getAttribute('data-t')), d.getHours(), d.getMinutes(),"
                    " t.textContent]; })"
                )
            finally:
                page.close()
            assert len(ticks) >= at_least, (rng, ticks)
            assert len({t[3] for t in ticks}) == len(ticks), (rng, ticks)
            assert all(b[0] - a[0] == step_ms for a, b in zip(ticks, ticks[1:])), (rng, ticks)
            for _, hour, minute, _label in ticks:
                assert minute % 5 == 0
                if step_ms >= 3600000:
                    assert minute == 0, (rng, ticks)
                if step_ms >= 86400000:
                    assert hour == 0, (rng, ticks)


def test_an_outage_is_a_gap_in_the_line_not_a_straight_segment(tmp_path):
    import json

    import urllib3

    from support.receiver import READ_TOKEN

    now = int(time.time())
    before = [now - 600 + 10 * i for i in range(10)]  # 10 readings, then 5 minutes of nothing
    after = [now - 200 + 10 * i for i in range(10)]
    lone = [now - 300]  # one reading alone in the gap
    pts = [
        {"metric": "gappy", "value": 1, "timestamp": t, "tags": {}} for t in before + after + lone
    ]
    with ReceiverProcess(tmp_path / "rx") as rx:
        headers = {**rx.write_headers(), "Content-Type": "application/json"}
        r = urllib3.request(
            "POST", rx.url + "/api/put", body=json.dumps(pts).encode(), headers=headers
        )
        assert r.status == 204
        page = Page(rx.url + "/?token=%s#m=gappy" % READ_TOKEN, tmp_path / "chr")
        try:
            page.wait_for("document.querySelector('#chart path.series') !== null")
            d = page.js("document.querySelector('#chart path.series').getAttribute('d')")
            circles = page.js("document.querySelectorAll('#chart svg > circle').length")
        finally:
            page.close()
    assert d.count("M") == 3 and d.count("L") == 18, d  # two runs of 10, one lone point
    assert circles == 1


def test_serve_profile_without_forward_is_not_silently_ignored(tmp_path):
    """`tspush serve --profile opentsdb` looked like 'behave as OpenTSDB' and did nothing."""
    r = serve(tmp_path, "--port", "0", "--profile", "opentsdb")
    assert r.returncode == 2
    assert r.stderr.startswith("tspush: error: --forward: --profile/--forward-profile: used only")
    assert "--strict" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "rx.sqlite").exists()


def test_refused_writes_show_in_the_serve_log_without_the_token(tmp_path):
    """A board with a wrong token (or path) left no trace in `tspush serve`'s output."""
    import urllib3

    wrong = "wrong-board-token-77"
    with ReceiverProcess(tmp_path / "rx") as rx:
        body = b'[{"metric":"universe","value":42,"tags":{}}]'
        bearer = {"Authorization": "Bearer " + wrong, "Content-Type": "application/json"}
        assert urllib3.request("POST", rx.url + "/api/put", body=body, headers=bearer).status == 401
        r = urllib3.request(
            "POST", rx.url + "/api/v0/update", body=b"x", headers=rx.write_headers()
        )
        assert r.status == 404
        assert urllib3.request("GET", rx.url + "/").status == 401  # a browser's first visit: quiet
        deadline = time.monotonic() + 10
        while "api/v0/update" not in rx.text and time.monotonic() < deadline:
            time.sleep(0.1)
        text = rx.text
    assert "POST /api/put from 127.0.0.1: refused, HTTP 401 Invalid token" in text
    assert "POST /api/v0/update from 127.0.0.1: refused, HTTP 404 Endpoint not found" in text
    assert "GET /" not in text
    assert wrong not in text


def test_a_tls_client_on_the_plain_port_gets_a_hint_in_the_log(tmp_path):
    """It logged 'WARNING:  Invalid HTTP request received.' in uvicorn's own format."""
    import ssl

    with ReceiverProcess(tmp_path / "rx") as rx:
        ctx = ssl.create_default_context()
        with socket.create_connection(("127.0.0.1", rx.port), timeout=5) as raw:
            try:
                with ctx.wrap_socket(raw, server_hostname="localhost"):
                    pass
            except (ssl.SSLError, OSError):
                pass  # expected: the server speaks plain HTTP
        deadline = time.monotonic() + 10
        while "invalid HTTP request" not in rx.text and time.monotonic() < deadline:
            time.sleep(0.1)
        text = rx.text
    assert "invalid HTTP request received (a client speaking TLS to this plain http port?" in text
    assert "WARNING:" not in text


def test_the_metric_list_can_be_filtered(tmp_path):
    """With dozens of metrics (sys.*, tspush.*, sensors) the list needs a filter box."""
    import json

    import urllib3

    from support.receiver import READ_TOKEN

    names = ["sys.cpu.percent", "sys.mem.used_percent", "room.temp", "tspush.retries", "universe"]
    pts = [{"metric": n, "value": 1, "tags": {}} for n in names]
    with ReceiverProcess(tmp_path / "rx") as rx:
        headers = {**rx.write_headers(), "Content-Type": "application/json"}
        r = urllib3.request(
            "POST", rx.url + "/api/put", body=json.dumps(pts).encode(), headers=headers
        )
        assert r.status == 204
        page = Page(rx.url + "/?token=%s#m=universe" % READ_TOKEN, tmp_path / "chr")
        visible = (
            "[...document.querySelectorAll('#metrics li')].filter(li => !li.hidden)"
            ".map(li => li.textContent)"
        )
        try:
            page.wait_for("document.querySelectorAll('#metrics li').length === 5")
            page.js(
                "const f = document.getElementById('filter'); f.value = 'SYS per';"
                " f.dispatchEvent(new Event('input'))"
            )
            assert page.js(visible) == ["sys.cpu.percent", "sys.mem.used_percent"]
            # an auto-refresh rebuilds the list: the filter must hold
            page.js("document.querySelector('#metrics li').setAttribute('data-old', '1')")
            page.wait_for("!document.querySelector('#metrics li[data-old]')", 20)
            assert page.js(visible) == ["sys.cpu.percent", "sys.mem.used_percent"]
        finally:
            page.close()


def test_a_few_seconds_of_readings_in_a_long_range_still_show(tmp_path):
    """Two readings 2 s apart in a 1-hour chart were a 0.4-pixel line: invisible."""
    import json

    import urllib3

    from support.receiver import READ_TOKEN

    now = int(time.time())
    pts = [
        {"metric": "brief", "value": 3, "timestamp": t, "tags": {}} for t in (now - 60, now - 58)
    ]
    with ReceiverProcess(tmp_path / "rx") as rx:
        headers = {**rx.write_headers(), "Content-Type": "application/json"}
        r = urllib3.request(
            "POST", rx.url + "/api/put", body=json.dumps(pts).encode(), headers=headers
        )
        assert r.status == 204
        page = Page(rx.url + "/?token=%s#m=brief&r=1h" % READ_TOKEN, tmp_path / "chr")
        try:
            page.wait_for("document.querySelector('#chart path.series') !== null")
            circles = page.js("document.querySelectorAll('#chart svg > circle').length")
        finally:
            page.close()
    assert circles == 1
