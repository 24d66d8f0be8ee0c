"""The token never shows: stdout, stderr, logs, state and status, spool files,
exception text, reprs and tracebacks, in clear or base64, even when the
server echoes it back (as vmauth does on a bad token).

Every scenario runs the real commands as subprocesses against servers that
echo the Authorization header in their body and headers, refuse the
certificate, or break the connection; then every byte they wrote anywhere
is searched for every form of the token.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

import pytest

from support.badserver import BadServer
from support.tls import RecordingServer, make_certs

from .agentproc import AgentProcess, put_line, wait_until, write_config

TOKEN = "s3cr3t-T0KEN-for-leak-tests-77"


def forms(token: str = TOKEN) -> list[str]:
    out = [token]
    for user in ("DESC", "metrics", ""):
        out.append(base64.b64encode(f"{user}:{token}".encode()).decode())
    out.append(base64.b64encode(token.encode()).decode())
    out.append(base64.urlsafe_b64encode(token.encode()).decode().rstrip("="))
    out.append(token.encode().hex())
    return out


def assert_clean(where: str, text: str | bytes) -> None:
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    for f in forms():
        assert f not in text, f"{where}: token form {f[:6]}... found in:\n{text[-1500:]}"


def tspush(*args: str, env: dict[str, str] | None = None, timeout_s: float = 60) -> str:
    r = subprocess.run(
        [sys.executable, "-m", "tspush.cli.main", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout_s,
    )
    return f"exit {r.returncode}\n--stdout--\n{r.stdout}\n--stderr--\n{r.stderr}"


@pytest.mark.parametrize("profile", ["ovh", "victoriametrics", "tspush"])
@pytest.mark.parametrize("how", ["flag", "env", "file"])
def test_push_output_never_shows_the_token_when_the_server_echoes_it(
    tmp_path: Path, profile: str, how: str
) -> None:
    with BadServer(then="echo") as srv:
        args = ["push", "leak.test", "1", "--url", srv.url, "--profile", profile, "-v"]
        env = {}
        if how == "flag":
            args += ["--token", TOKEN]
        elif how == "env":
            env["TSPUSH_TOKEN"] = TOKEN
        else:
            tf = tmp_path / "token"
            tf.write_text(TOKEN + "\n")
            tf.chmod(0o600)
            args += ["--token-file", str(tf)]
        out = tspush(*args, env=env)
    assert srv.requests, "the server never got the request: this proves nothing"
    echoed = srv.requests[0].headers.get("authorization", "")
    assert echoed, "no token was sent: this proves nothing"
    assert "exit 3" in out, out  # AuthError
    assert_clean(f"tspush push ({profile}, token by {how})", out)


@pytest.mark.parametrize("behaviour", ["reset", "garbage", "half", "never"])
def test_push_errors_never_show_the_token(behaviour: str) -> None:
    with BadServer(then=behaviour) as srv:
        out = tspush(
            "push",
            "leak.test",
            "1",
            "--url",
            srv.url.replace("http://", f"http://DESC:{TOKEN}@"),
            "--token",
            TOKEN,
            "-v",
            env={"TSPUSH_READ_TIMEOUT_S": "1"},
        )
    assert "exit 0" not in out
    assert_clean(f"tspush push vs {behaviour}", out)


def test_push_tls_refusal_never_shows_the_token(tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    with RecordingServer(tls=True, certs=certs) as srv:
        out1 = tspush("push", "m", "1", "--url", srv.url, "--token", TOKEN, "-v")
        out2 = tspush(
            "push", "m", "1", "--url", srv.url, "--token", TOKEN, "--fingerprint", "AB" * 32, "-v"
        )
    assert "exit 4" in out1 and "exit 4" in out2, (out1, out2)
    assert all(c == b"" for c in srv.connections)
    assert_clean("push TLS refusal", out1 + out2)


def test_exceptions_reprs_and_tracebacks_never_hold_the_token() -> None:
    from tspush.core.errors import TspushError
    from tspush.host import profiles
    from tspush.host.push import send_batch
    from tspush.host.transport import Transport

    caught: list[BaseException] = []
    for behaviour in ("echo", "garbage", "reset"):
        with BadServer(then=behaviour) as srv:
            for prof in ("ovh", "victoriametrics"):
                p = profiles.get(prof)
                t = Transport(srv.url, token=TOKEN, auth_scheme=p.auth_scheme, read_timeout_s=2)
                try:
                    send_batch(t, p, b"[]", [])
                except TspushError as e:
                    caught.append(e)
                t.close()
    assert len(caught) == 6
    for e in caught:
        text = "\n".join(
            [str(e), repr(e), repr(getattr(e, "body", "")), *traceback.format_exception(e)]
        )
        reply = getattr(e, "reply", None)
        if reply is not None:
            text += repr(reply.body) + repr(reply.headers)
        assert_clean(type(e).__name__, text)


def test_agent_logs_state_status_and_spool_never_hold_the_token(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with BadServer(then="echo") as srv:
        cfg = write_config(
            tmp_path / "agent.toml",
            srv.url,
            tmp_path / "spool",
            profile="ovh",
            token=TOKEN,
            state_file=state,
            retry_cap_s=0.2,
            extra_output="auth_backoff_s = 0.2",
        )
        agent = AgentProcess(cfg, tmp_path / "agent.log").start()
        agent.feed([put_line(i) for i in range(20)])
        assert wait_until(lambda: len(srv.requests) >= 3, 20), agent.log()[-2000:]
        time.sleep(0.5)
        status = tspush("status", "--state-file", str(state))
        status_json = tspush("status", "--state-file", str(state), "--json")
        agent.stop()
    assert srv.requests[0].headers.get("authorization"), "no token was sent: proves nothing"
    assert "401" in agent.log() or "token" in agent.log().lower(), agent.log()[-2000:]
    assert_clean("agent log", agent.log())
    assert_clean("tspush status", status)
    assert_clean("tspush status --json", status_json)
    for f in tmp_path.rglob("*"):
        if f.is_file() and f.name != "agent.toml":
            assert_clean(str(f), f.read_bytes())
