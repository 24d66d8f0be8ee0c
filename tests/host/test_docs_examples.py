"""The examples in the docs work when pasted: each is run here and its points read back."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

from support.receiver import ReceiverProcess

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _stdin_example() -> str:
    text = (DOCS / "cli.md").read_text()
    section = text.split("### stdin", 1)[1]
    m = re.search(r"```\n(.*?)```", section, re.S)
    assert m, "docs/cli.md: the stdin example block is gone"
    return m.group(1)


def _query(rx: ReceiverProcess, metric: str) -> list[dict]:
    url = rx.url + "/api/query?start=2000/01/01-00:00:00&m=sum:" + metric
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def test_the_stdin_example_of_cli_md_lands_as_written(tspush, tmp_path: Path) -> None:
    """The notes after each line used to be read as tags: the pasted example failed."""
    example = _stdin_example()
    with ReceiverProcess(tmp_path, "--no-auth") as rx:
        r = tspush("push", "-", "--url", rx.url, "--timestamp", "1700000005", input=example)
        assert r.returncode == 0, r.stderr
        got = {m: _query(rx, m) for m in ("sys.cpu.user", "sensor.hum", "sensor.pres", "a", "b")}
    assert got["sys.cpu.user"][0]["dps"] == {"1700000000": 42.5}
    assert got["sys.cpu.user"][0]["tags"] == {"host": "web01", "cpu": "0"}
    assert got["sensor.hum"][0]["dps"] == {"1700000005": 55}
    assert got["sensor.hum"][0]["tags"] == {"room": "attic"}
    assert got["sensor.pres"][0]["dps"] == {"1700000002": 1013}
    assert got["a"][0]["dps"] == {"1700000005": 1}
    assert got["b"][0]["dps"] == {"1700000005": 2.5}


def _walkthrough() -> list[str]:
    readme = (DOCS.parent / "README.md").read_text()
    section = readme.split("## Your own receiver, step by step", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert len(blocks) == 3, "README: the walk-through's three sh blocks changed"
    return blocks


def test_the_readme_walkthrough_runs_as_written(tmp_path: Path) -> None:
    """Token, `tspush serve`, push, read back, open the dashboard: each line as printed."""
    import os
    import subprocess
    import sys

    import urllib3

    from support.ports import free_port

    port = free_port()
    start, push, dashboard = (
        b.replace("127.0.0.1:4242", "127.0.0.1:%d" % port) for b in _walkthrough()
    )
    home = tmp_path / "home"
    home.mkdir()
    bindir = Path(sys.executable).parent
    env = {
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "PATH": "%s:%s" % (bindir, os.environ["PATH"]),
    }
    make_token, serve = (ln.split("  #")[0] for ln in start.strip().splitlines())
    subprocess.run(["bash", "-ec", make_token], env=env, check=True, timeout=60)
    assert (home / ".tspush-token").stat().st_mode & 0o077 == 0
    proc = subprocess.Popen(
        ["bash", "-c", "exec %s --port %d" % (serve, port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        printed = ""
        for line in proc.stdout:
            printed += line
            if line.startswith("listening on"):
                break
        r = subprocess.run(
            ["bash", "-ec", push], env=env, capture_output=True, text=True, timeout=60
        )
        assert r.returncode == 0, r.stderr
        read_back = json.loads(r.stdout.strip().splitlines()[-1])
        assert list(read_back[0]["dps"].values()) == [42]
        # the printed link asks for the token; the address with ?token= signs in (cookie)
        link = re.search(r"dashboard: (\S+)", printed)
        assert link and link.group(1) == "http://127.0.0.1:%d/" % port
        assert urllib3.request("GET", link.group(1), redirect=False).status == 401
        cmd = dashboard.split("  #")[0].strip()
        assert cmd.startswith("xdg-open ")
        url = subprocess.run(
            ["bash", "-ec", "echo " + cmd.removeprefix("xdg-open ")],
            env=env,
            capture_output=True,
            text=True,
        ).stdout.strip()
        signed = urllib3.request("GET", url, redirect=False)
        assert signed.status in (302, 303) and "set-cookie" in signed.headers
        cookie = signed.headers["set-cookie"].split(";")[0]
        page = urllib3.request("GET", link.group(1), headers={"Cookie": cookie})
        assert page.status == 200 and b"<title>tspush" in page.data
    finally:
        proc.terminate()
        proc.communicate(timeout=15)
    token = (home / ".tspush-token").read_text().strip()
    assert token not in printed
