"""Acceptance: a new user's mistakes with the CLI give one clear line and the right exit code.

Each test is a defect found by following the README as a user: it used to
end in a Python traceback or in a misleading error.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from support.tls import RecordingServer, make_certs

TOKEN = "acceptance-Write-T0ken"


def assert_one_clear_line(stderr: str, *words: str) -> None:
    assert "Traceback" not in stderr, stderr
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    for w in words:
        assert w in lines[0], stderr


def test_fingerprint_missing_ca_file_is_a_config_error(tspush, tmp_path):
    missing = tmp_path / "no-such-ca.pem"
    r = tspush("fingerprint", "127.0.0.1:1", "--ca-file", str(missing))
    assert r.returncode == 2
    assert_one_clear_line(r.stderr, "--ca-file", str(missing), "no such file")
    assert r.stdout == ""


def test_fingerprint_ca_file_not_pem_is_a_config_error(tspush, tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("not a certificate\n")
    r = tspush("fingerprint", "127.0.0.1:1", "--ca-file", str(junk))
    assert r.returncode == 2
    assert_one_clear_line(r.stderr, "--ca-file", str(junk), "PEM")


def test_push_missing_ca_file_sends_nothing_and_names_the_key(tspush, tmp_path):
    missing = tmp_path / "no-such-ca.pem"
    with RecordingServer(tls=True, certs=make_certs(tmp_path / "pki")) as srv:
        r = tspush("push", "universe", "42", "--url", srv.url, "--token", TOKEN,
                   "--ca-file", str(missing))  # fmt: skip
        assert srv.connections == []
    assert r.returncode == 2, r.stderr  # bad input, not 4 (TLS)
    assert "ca_file" in r.stderr and "no such file" in r.stderr
    assert "Traceback" not in r.stderr and TOKEN not in r.stderr + r.stdout


def test_push_with_the_right_ca_file_still_lands(tspush, tmp_path):
    certs = make_certs(tmp_path / "pki")
    with RecordingServer(tls=True, certs=certs) as srv:
        r = tspush("push", "universe", "42", "--url", srv.url, "--token", TOKEN,
                   "--ca-file", str(certs.ca_file))  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert srv.requests[0][2] == b'[{"metric":"universe","value":42,"tags":{}}]'


def test_serve_db_that_is_not_a_database(tspush, tmp_path):
    notdb = tmp_path / "tspush.toml"
    notdb.write_text('[output]\nurl = "http://127.0.0.1:1"\n')
    before = notdb.read_bytes()
    r = tspush("serve", "--port", "0", "--no-auth", "--db", str(notdb), timeout_s=30)
    assert r.returncode == 2
    assert_one_clear_line(r.stderr, "--db", str(notdb))
    assert notdb.read_bytes() == before


def test_serve_unknown_forward_profile_is_a_usage_error(tspush, tmp_path):
    r = tspush("serve", "--port", "0", "--no-auth", "--db", str(tmp_path / "rx.sqlite"),
               "--forward", "http://127.0.0.1:1", "--forward-profile", "nosuch")  # fmt: skip
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "'nosuch' is not one of" in r.stderr and "ovh" in r.stderr
    assert not (tmp_path / "rx.sqlite").exists()


def _agent_config(tmp_path: Path) -> Path:
    cfg = tmp_path / "tspush.toml"
    cfg.write_text(
        '[spool]\ndir = "%s"\n\n[[sources]]\ntype = "constant"\n\n'
        '[[outputs]]\nurl = "http://127.0.0.1:1"\nprofile = "tspush"\n'
        'token_env = "QA_TOKEN_NOT_SET"\n' % (tmp_path / "spool")
    )
    return cfg


def test_status_does_not_need_the_outputs_token(tspush, tmp_path):
    """`tspush status` reads the state file; it runs from any shell, without the token."""
    from tspush.host.status import write_state

    cfg = _agent_config(tmp_path)
    state = {
        "pid": 999999,
        "stopped": True,
        "updated_s": time.time(),
        "spool_dir": str(tmp_path / "spool"),
        "spool_points": 7,
        "outputs": {
            "default": {"url": "127.0.0.1:1/api/put", "profile": "tspush", "pending": 7},
            "idle": {"url": "127.0.0.1:2/api/put", "profile": "tspush", "pending": 0},
        },
        "sources": {},
    }
    write_state(tmp_path / "spool" / "state.json", state)
    r = tspush("status", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    assert "output default -> 127.0.0.1:1/api/put" in r.stdout
    assert "pending 7 point(s)" in r.stdout
    assert "  nothing pending; sent" in r.stdout  # was 'pending 0 point(s), oldest never'
    assert "never" not in r.stdout.split("output idle")[1].splitlines()[1]
    r = tspush("status", "--config", str(cfg), "--json")
    assert json.loads(r.stdout)["spool_points"] == 7
    # `run --check` still insists on the token: the agent cannot send without it.
    r = tspush("run", "--check", "--config", str(cfg))
    assert r.returncode == 2
    assert "outputs[0].token_env" in r.stderr and "QA_TOKEN_NOT_SET" in r.stderr


def test_refused_point_is_named_once(tspush, tmp_path):
    """A point refused by a strict server: each stderr line names it once, without '@ None'."""
    from support.receiver import WRITE_TOKEN, ReceiverProcess

    with ReceiverProcess(tmp_path / "rx", "--strict") as rx:
        r = tspush("push", "universe", "42", "--url", rx.url, "--token", WRITE_TOKEN,
                   "--profile", "tspush")  # fmt: skip
    assert r.returncode == 6, r.stderr
    lines = r.stderr.splitlines()
    assert lines[0] == (
        "tspush: refused: universe{} = 42: no timestamp: OpenTSDB needs one "
        "(Unix seconds or milliseconds)"
    )
    for line in lines:
        assert line.count("universe{} = 42") == 1, line
        assert "None" not in line
    assert WRITE_TOKEN not in r.stdout + r.stderr


def test_no_token_says_so_and_does_not_claim_data_is_kept(tspush, tmp_path):
    """`tspush push` keeps nothing: a 401 must not say 'data is kept'; no token gets a hint."""
    from support.receiver import ReceiverProcess

    with ReceiverProcess(tmp_path / "rx") as rx:
        r = tspush("push", "universe", "42", "--url", rx.url, "--profile", "tspush")
        assert r.returncode == 3, r.stderr
        assert "1 not sent" in r.stdout
        assert "kept" not in r.stderr
        assert r.stderr.splitlines()[-1] == (
            "tspush: no token was sent: give it with --token-file FILE, --token, "
            "TSPUSH_TOKEN or token in tspush.toml"
        )
        r = tspush("push", "universe", "42", "--url", rx.url, "--profile", "tspush",
                   "--token", "wrong-token-123")  # fmt: skip
        assert r.returncode == 3, r.stderr
        assert "the token was rejected" in r.stderr and "no token was sent" not in r.stderr
        assert "wrong-token-123" not in r.stderr + r.stdout


def test_run_check_finds_what_run_would_refuse(tspush, tmp_path):
    """`run --check` said 'OK' for a URL `run` then refused; now it names file and key."""
    cfg = tmp_path / "tspush.toml"
    cfg.write_text(
        '[spool]\ndir = "%s"\n\n[[sources]]\ntype = "constant"\n\n'
        '[[outputs]]\nurl = "htp://127.0.0.1:1"\nprofile = "tspush"\n\n'
        '[[outputs]]\nname = "b"\nurl = "https://127.0.0.1:1"\nca_file = "%s"\n'
        % (tmp_path / "spool", tmp_path / "no-ca.pem")
    )
    for args in (["run", "--check"], ["run"]):
        r = tspush(*args, "--config", str(cfg), timeout_s=30)
        assert r.returncode == 2, r.stderr
        assert "Traceback" not in r.stderr
        assert "%s: outputs[0].url: 'htp://127.0.0.1:1' is not an http(s) URL" % cfg in r.stderr
        assert "%s: outputs[1].ca_file: %s: no such file" % (cfg, tmp_path / "no-ca.pem") in (
            r.stderr
        )
        assert "OK" not in r.stdout
    assert not (tmp_path / "spool").exists()  # nothing started


def test_every_option_of_the_readme_commands_says_what_it_does():
    """`--help` is the user's first stop: no option may be listed without a word of help."""
    import importlib

    import click

    for name in ("push", "fingerprint", "serve", "demo", "run", "status"):
        command = importlib.import_module("tspush.cli." + name).command
        assert command.help, name
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, "tspush %s %s has no help text" % (name, param.opts[0])


def test_status_without_any_config_says_no_state_yet(tspush, tmp_path):
    """Before the first `tspush run`: one line about the state, not about missing outputs."""
    r = tspush("status", env={"XDG_STATE_HOME": str(tmp_path / "state")})
    assert r.returncode == 2
    assert_one_clear_line(r.stderr, "no agent state yet", "tspush run")
    assert "outputs" not in r.stderr


def test_run_check_summary_speaks_the_readme_units(tspush, tmp_path):
    cfg = _agent_config(tmp_path)
    r = tspush("run", "--check", "--config", str(cfg), env={"QA_TOKEN_NOT_SET": "t0k3n-x"})
    assert r.returncode == 0, r.stderr
    assert (
        "spool: %s (at most 1 GiB; points older than 7 days dropped)" % (tmp_path / "spool")
        in r.stdout.splitlines()
    )
    assert "t0k3n-x" not in r.stdout + r.stderr


def test_push_uses_the_one_output_of_the_readme_run_config(tspush, tmp_path):
    """The README's `tspush run` config in ./tspush.toml: `tspush push` sends to that output
    with the token from its token_env (was: 'no server URL')."""
    from support.receiver import WRITE_TOKEN, ReceiverProcess

    with ReceiverProcess(tmp_path / "rx") as rx:
        (tmp_path / "tspush.toml").write_text(
            '[spool]\ndir = "%s"\n\n[[sources]]\ntype = "system"\ninterval_s = 30\n\n'
            '[[outputs]]\nurl = "%s"\nprofile = "tspush"\ntoken_env = "MY_TSPUSH_TOKEN"\n'
            "flush_interval_s = 5\n" % (tmp_path / "spool", rx.url)
        )
        r = tspush("push", "acceptance.one", "7", env={"MY_TSPUSH_TOKEN": WRITE_TOKEN})
        assert r.returncode == 0, r.stderr
        q = rx.url + "/api/query?start=1h-ago&m=sum:acceptance.one"
        import urllib3

        got = urllib3.request("GET", q, headers=rx.read_headers()).json()
        assert list(got[0]["dps"].values()) == [7]
        assert WRITE_TOKEN not in r.stdout + r.stderr


def test_plain_http_to_a_tls_port_suggests_https(tspush, tmp_path):
    with RecordingServer(tls=True, certs=make_certs(tmp_path / "pki")) as srv:
        url = srv.url.replace("https://", "http://")
        r = tspush("push", "universe", "42", "--url", url, "--token", TOKEN)
    assert r.returncode == 5, r.stderr
    assert "if it speaks TLS, write https:// in the URL" in r.stderr.splitlines()[-1]
    assert TOKEN not in r.stderr + r.stdout


def test_a_busy_spool_names_the_setting_of_the_command_at_hand(tspush, tmp_path):
    """It said '(or --spool-dir)', an option `tspush run` does not have."""
    from tspush.host.spoollock import lock_spool

    cfg = _agent_config(tmp_path)
    held = lock_spool(tmp_path / "spool")
    try:
        r = tspush("run", "--config", str(cfg), env={"QA_TOKEN_NOT_SET": "x"}, timeout_s=30)
    finally:
        held.close()
    assert r.returncode == 7, r.stderr
    assert_one_clear_line(
        r.stderr, "in use by another tspush process", "[spool] dir for tspush run"
    )
    help_text = tspush("run", "--help").stdout
    assert "--spool-dir" not in help_text  # so the message must not send people there


def test_credentials_in_the_url_are_refused_without_printing_them(tspush, tmp_path):
    """USER:TOKEN@HOST was silently dropped (401) and `run --check` printed the token."""
    secret = "SeCrEt-in-URL-42"
    with RecordingServer(tls=False) as srv:
        url = srv.url.replace("http://", "http://DESC:%s@" % secret)
        r = tspush("push", "universe", "42", "--url", url, "-v")
        assert srv.connections == []
    assert r.returncode == 2
    assert_one_clear_line(r.stderr, "url: the URL holds a user name or password")
    cfg = tmp_path / "tspush.toml"
    cfg.write_text(
        '[spool]\ndir = "%s"\n[[sources]]\ntype = "constant"\n[[outputs]]\nurl = "%s"\n'
        % (tmp_path / "spool", url)
    )
    r2 = tspush("run", "--check", "--config", str(cfg))
    assert r2.returncode == 2
    assert "outputs[0].url: the URL holds a user name or password" in r2.stderr
    r3 = tspush("serve", "--port", "0", "--no-auth", "--db", str(tmp_path / "rx.sqlite"),
                "--forward", url)  # fmt: skip
    assert r3.returncode == 2 and "the URL holds a user name or password" in r3.stderr
    for out in (r, r2, r3):
        assert secret not in out.stdout + out.stderr


def test_a_token_the_profile_does_not_send_is_said_so(tspush, tmp_path):
    """--profile opentsdb sends no auth: a given token was silently dropped, and the 401 was
    reported as 'the token was rejected'."""
    from support.receiver import WRITE_TOKEN, ReceiverProcess

    with ReceiverProcess(tmp_path / "rx") as rx:
        args = ["push", "x", "1", "--url", rx.url, "--token", WRITE_TOKEN, "--profile", "opentsdb"]
        r = tspush(*args)
        assert r.returncode == 3
        lines = r.stderr.splitlines()
        assert lines[0] == (
            "tspush: warning: the token is not sent: profile opentsdb uses no auth; add --auth "
            "basic (or bearer) if the server wants one"
        )
        assert lines[-1] == (
            "tspush: no token was sent: profile opentsdb uses no auth: add --auth basic (or bearer)"
        )
        r = tspush(*args, "--auth", "basic")
        assert r.returncode == 0, r.stderr
        assert r.stderr == ""
        assert WRITE_TOKEN not in r.stdout


def test_a_404_points_at_the_url_and_profile_not_at_api_put(tspush, tmp_path):
    with RecordingServer(tls=False, responder=lambda req: (404, {}, b"no such page")) as srv:
        r = tspush("push", "x", "1", "--url", srv.url, "--profile", "warp10", "--token", TOKEN)
    assert r.returncode == 6
    last = r.stderr.splitlines()[-1]
    assert "/api/v0/update" in last and "check the URL path and the profile" in last
    assert "(/api/put)" not in last


def test_run_check_notes_a_token_the_profile_will_not_send(tspush, tmp_path):
    cfg = tmp_path / "tspush.toml"
    cfg.write_text(
        '[spool]\ndir = "%s"\n[[sources]]\ntype = "constant"\n'
        '[[outputs]]\nname = "tsdb"\nurl = "http://127.0.0.1:1"\nprofile = "opentsdb"\n'
        'token_env = "QA_TOK"\n' % (tmp_path / "spool")
    )
    r = tspush("run", "--check", "--config", str(cfg), env={"QA_TOK": "tok-not-sent-9"})
    assert r.returncode == 0, r.stderr
    assert (
        "note: output tsdb: profile opentsdb sends no auth, so its token is not used "
        '(add auth = "basic" or "bearer" if the server wants one)'
    ) in r.stdout.splitlines()
    assert "tok-not-sent-9" not in r.stdout + r.stderr
    cfg.write_text(cfg.read_text() + 'auth = "basic"\n')
    r = tspush("run", "--check", "--config", str(cfg), env={"QA_TOK": "tok-not-sent-9"})
    assert r.returncode == 0, r.stderr
    assert "note:" not in r.stdout


def test_pasted_fingerprints_with_invisible_characters_still_pin(tspush, tmp_path):
    """A fingerprint copied from a web page or chat carries zero-width or no-break spaces."""
    import hashlib

    from tspush.core import fingerprint as fp

    certs = make_certs(tmp_path / "pki")
    sha1 = fp.format_original(hashlib.sha1(certs.der).digest())
    pasted = "\u200b" + sha1.replace(" ", "\u00a0", 3) + "\ufeff"
    with RecordingServer(tls=True, certs=certs) as srv:
        r = tspush("push", "universe", "42", "--url", srv.url, "--token", TOKEN,
                   "--fingerprint", pasted)  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert srv.requests[0][2] == b'[{"metric":"universe","value":42,"tags":{}}]'


def test_a_key_pin_is_not_taken_for_a_certificate_pin(tspush, tmp_path):
    """`tspush fingerprint` prints SPKI pins; pasted into --fingerprint they must not be
    mistaken for something else, and nothing may be sent."""
    certs = make_certs(tmp_path / "pki")
    with RecordingServer(tls=True, certs=certs) as srv:
        key_pin = 'pin-sha256="76pTLiKbyh2QGBxxmdqBPnPu3/SpC97YTKcm6PVRMbc="'
        r = tspush("push", "universe", "42", "--url", srv.url, "--token", TOKEN,
                   "--fingerprint", key_pin)  # fmt: skip
        assert srv.connections == []
        f = tspush("fingerprint", "127.0.0.1:%d" % srv.port)
    assert r.returncode == 2
    assert_one_clear_line(r.stderr, "is a public-key (SPKI) pin; tspush pins the certificate")
    assert "the SPKI lines pin the key, for other clients" in f.stdout.splitlines()[-1]
