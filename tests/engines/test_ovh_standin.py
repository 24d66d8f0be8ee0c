"""The original's request lands on an OVH stand-in, through ``tspush push --profile ovh``.

The stand-in is vmauth (TLS with a throw-away certificate, Basic auth with
user ``DESC`` and the token as password) in front of VictoriaMetrics' OpenTSDB
listener; what landed is read back from VictoriaMetrics. The certificate is
pinned with its SHA-1 written as the original's config wants it (``AB CD ..``).
"""

from __future__ import annotations

import base64
import os
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.vm import VictoriaMetrics
from support.vmauth import VMAuth, available
from tspush.core import auth

TOKEN = "ovh-write-token-6b1d0e"


@pytest.fixture
def standin(tmp_path: Path, victoria: VictoriaMetrics) -> Iterator[VMAuth]:
    if not available():
        pytest.fail("vmauth is not installed: run .ci/run (it installs victoria-metrics)")
    with VMAuth(tmp_path / "vmauth", victoria.opentsdb_url, token=TOKEN) as va:
        yield va


def push(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TSPUSH_")}
    return subprocess.run(
        [sys.executable, "-m", "tspush.cli.main", "push", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=str(Path(__file__).parent),  # no tspush.toml picked up by accident
    )


def test_originals_request_lands(standin: VMAuth, victoria: VictoriaMetrics) -> None:
    assert len(standin.sha1_original.split(" ")) == 20
    before_ms = int(time.time()) * 1000
    r = push(
        "universe",
        "42",
        "--profile",
        "ovh",
        "--url",
        standin.url.replace("127.0.0.1", "localhost"),  # the pin, not the name, is trusted
        "--token",
        TOKEN,
        "--fingerprint",
        standin.sha1_original,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "204" in r.stdout
    rows = victoria.wait_for("universe", 1)
    assert len(rows) == 1
    name, tags, ts_ms, value = rows[0]
    assert (name, tags, value) == ("universe", {}, 42)
    # no timestamp was sent: the server stamped it on arrival
    assert before_ms - 1000 <= ts_ms <= int(time.time()) * 1000 + 1000


def test_many_points_through_the_standin_read_back_exactly(
    standin: VMAuth, victoria: VictoriaMetrics
) -> None:
    values = [21.375, -7, 123456.789012, -2.5e-08, 2**53, 0]
    lines = [
        "put ovh.v%d %d %r pi\u00e8ce=s\u00e9jour host=board%d" % (i, 1700000000 + i, v, i % 2)
        for i, v in enumerate(values)
    ]
    lines += ["put ovh.ms 1700000000123 1.5 host=board0"]
    r = push(
        "-",
        "--profile",
        "ovh",
        "--url",
        standin.url,
        "--token",
        TOKEN,
        "--fingerprint",
        standin.sha1_original,
        "--max-points",
        "3",
        stdin="\n".join(lines) + "\n",
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "7 accepted" in r.stdout and "3 requests" in r.stdout
    rows = victoria.wait_for('{__name__=~"ovh.*"}', 7)
    want = [
        ("ovh.v%d" % i, {"pi\u00e8ce": "s\u00e9jour", "host": "board%d" % (i % 2)}, ms, v)
        for i, (ms, v) in enumerate(zip(range(1700000000000, 1700000006000, 1000), values))
    ]
    want.append(("ovh.ms", {"host": "board0"}, 1700000000123, 1.5))
    assert sorted(rows, key=lambda r: r[0]) == sorted(want, key=lambda r: r[0])


@pytest.mark.parametrize("verbose", [False, True])
def test_wrong_token_says_token_rejected_and_never_shows_it(
    standin: VMAuth, victoria: VictoriaMetrics, verbose: bool
) -> None:
    wrong = "not-the-token-93c2"
    args = ["universe", "42", "--profile", "ovh", "--url", standin.url, "--token", wrong]
    args += ["--fingerprint", standin.sha1_original] + (["-v"] if verbose else [])
    r = push(*args)
    out = r.stdout + r.stderr
    assert r.returncode == 3, out  # AuthError's exit code
    assert "token was rejected" in r.stderr
    assert "check the write token" in r.stderr
    for form in auth.secret_forms(wrong):
        assert form not in out, form
    # vmauth did echo it: the redaction is what keeps it out
    if verbose:
        assert 'auth token "Basic ***"' in r.stdout
    victoria.flush()
    assert victoria.samples("universe") == []


def _raw_put(standin: VMAuth, authorization: str) -> tuple[int, bytes]:
    ctx = ssl.create_default_context(cafile=str(standin.certs.ca_file))
    req = urllib.request.Request(
        standin.url + "/api/put",
        data=b'[{"metric":"universe","value":42,"tags":{}}]',
        method="POST",
        headers={"Authorization": authorization, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=60) as resp:
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as e:
        return int(e.code), e.read()


def test_the_originals_lowercase_basic_is_refused_by_a_strict_proxy(standin: VMAuth) -> None:
    """Why tspush sends ``Basic``: vmauth compares the header literally."""
    cred = base64.b64encode(("DESC:" + TOKEN).encode()).decode()
    status, body = _raw_put(standin, "basic " + cred)
    assert status in (400, 401) and b"auth token" in body
    assert _raw_put(standin, "Basic " + cred)[0] == 204


def test_pin_mismatch_sends_nothing(standin: VMAuth, victoria: VictoriaMetrics) -> None:
    other = "AB " * 19 + "CD"
    r = push("universe", "42", "--url", standin.url, "--token", TOKEN, "--fingerprint", other)
    assert r.returncode == 4, r.stdout + r.stderr
    assert "does not match" in r.stderr
    victoria.flush()
    assert victoria.samples("universe") == []
