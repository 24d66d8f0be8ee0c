"""``tspush push`` (the console script) against a recording TLS server: wire bytes, every
answer class, exit codes, and the token kept out of every byte the user sees."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from support.tls import RecordingServer, Request, make_certs
from tspush.core import fingerprint as fp

TOKEN = "s3cr3t-Write-T0ken"
BASIC = "Basic " + base64.b64encode(b"DESC:" + TOKEN.encode()).decode()
SECRET_FORMS = [TOKEN, base64.b64encode(TOKEN.encode()).decode(), BASIC.split()[1]]


@pytest.fixture
def certs(tmp_path):
    return make_certs(tmp_path / "pki")


def pin(certs) -> str:
    return fp.format_original(hashlib.sha1(certs.der).digest())


def push_args(srv, certs, *args: str) -> list[str]:
    return ["push", "--url", srv.url, "--token", TOKEN, "--fingerprint", pin(certs), *args]


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for form in SECRET_FORMS:
            assert form not in text


def test_original_request_bytes(tspush, certs):
    with RecordingServer(tls=True, certs=certs) as srv:
        r = tspush(*push_args(srv, certs, "universe", "42"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("HTTP 204  1 point  ")
    line, headers, body = srv.requests[0]
    assert line == "POST /api/put HTTP/1.1"
    assert body == b'[{"metric":"universe","value":42,"tags":{}}]'
    assert headers["Authorization"] == BASIC
    assert headers["Content-Type"] == "application/json"
    assert headers["Content-Length"] == str(len(body))
    assert "Transfer-Encoding" not in headers and "Expect" not in headers
    assert_no_secret(r.stdout, r.stderr)


def test_verbose_view_is_the_serial_log(tspush, certs):
    with RecordingServer(tls=True, certs=certs) as srv:
        r = tspush(*push_args(srv, certs, "universe", "42", "-v"))
    lines = r.stdout.splitlines()
    assert lines[0] == "-" * 60
    assert lines[1] == "POST 127.0.0.1:%d/api/put" % srv.port
    assert lines[2] == '[{"metric":"universe","value":42,"tags":{}}]'
    assert lines[3] == "-" * 60
    assert lines[4] == "http: 204"
    assert lines[5] == "response: "
    assert r.returncode == 0


def test_tags_timestamp_and_float_precision_on_the_wire(tspush, certs):
    with RecordingServer(tls=True, certs=certs) as srv:
        r = tspush(
            *push_args(srv, certs, "room.temp", "21.123456789012", "-t", "room=attic"),
            "--timestamp",
            "1700000000",
        )
    assert r.returncode == 0, r.stderr
    assert json.loads(srv.requests[0].body) == [
        {
            "metric": "room.temp",
            "timestamp": 1700000000,
            "value": 21.123456789012,
            "tags": {"room": "attic"},
        }
    ]


def test_pin_mismatch_exit_4_and_server_sees_nothing(tspush, certs):
    with RecordingServer(tls=True, certs=certs) as srv:
        r = tspush(
            "push",
            "--url",
            srv.url,
            "--token",
            TOKEN,
            "--fingerprint",
            fp.format_original(hashlib.sha1(b"not it").digest()),
            "universe",
            "42",
        )
        srv.wait_closed(1)
    assert r.returncode == 4
    assert "certificate" in r.stderr and "does not match" in r.stderr
    assert srv.connections == [b""] and srv.requests == []
    assert_no_secret(r.stdout, r.stderr)


def test_untrusted_certificate_exit_4(tspush, certs):
    with RecordingServer(tls=True, certs=certs) as srv:
        r = tspush("push", "--url", srv.url, "--token", TOKEN, "universe", "42")
        ok = tspush(
            "push",
            "--url",
            srv.url,
            "--token",
            TOKEN,
            "--ca-file",
            str(certs.ca_file),
            "universe",
            "42",
        )
    assert r.returncode == 4 and "not trusted" in r.stderr
    assert ok.returncode == 0 and len(srv.requests) == 1


def test_insecure_says_so_on_stderr(tspush, certs):
    with RecordingServer(tls=True, certs=certs) as srv:
        r = tspush("push", "--url", srv.url, "--token", TOKEN, "--insecure", "universe", "42")
    assert r.returncode == 0
    assert "NOT checked" in r.stderr


def test_connection_refused_exit_5(tspush):
    from support.ports import free_port

    r = tspush("push", "--url", "https://127.0.0.1:%d" % free_port(), "--token", TOKEN, "m", "1")
    assert r.returncode == 5
    assert "cannot connect" in r.stderr


def respond(status: int, headers: dict[str, str] | None = None, body: bytes = b""):
    def responder(req: Request):
        return status, dict(headers or {}), body

    return responder


def echo_auth(req: Request):
    """What vmauth does on a bad token: echo the header back."""
    text = 'cannot authorize request with auth tokens ["%s"]' % req.header("Authorization")
    return 401, {"Content-Type": "text/plain"}, text.encode()


DETAILS = json.dumps(
    {
        "error": {
            "code": 400,
            "message": "One or more data points had errors",
            "details": {
                "success": 0,
                "failed": 1,
                "errors": [
                    {
                        "datapoint": {"metric": "universe", "value": 42, "tags": {}},
                        "error": "Unknown metric",
                    }
                ],
            },
        }
    }
).encode()


@pytest.mark.parametrize(
    "responder, code, expected",
    [
        (respond(204), 0, "204"),
        (respond(200, body=b"{}"), 0, "200"),
        (respond(400, {"Content-Type": "application/json"}, DETAILS), 6, "Unknown metric"),
        (echo_auth, 3, "token was rejected"),
        (respond(403, body=b"forbidden"), 3, "token was rejected"),
        (respond(413), 6, "too large"),
        (respond(429, {"Retry-After": "7"}), 6, "Retry-After: 7s"),
        (respond(503, body=b"maintenance"), 6, "HTTP 503"),
        (respond(404), 6, "check the URL path"),
    ],
    ids=["204", "200", "400-details", "401-echo", "403", "413", "429", "503", "404"],
)
@pytest.mark.parametrize("verbose", [False, True], ids=["plain", "verbose"])
def test_every_answer_class(tspush, certs, responder, code, expected, verbose):
    with RecordingServer(tls=True, certs=certs, responder=responder) as srv:
        args = push_args(srv, certs, "universe", "42") + (["-v"] if verbose else [])
        r = tspush(*args)
    assert r.returncode == code, (r.stdout, r.stderr)
    assert expected in r.stdout + r.stderr
    if code:
        assert "tspush: error: " in r.stderr
    assert_no_secret(r.stdout, r.stderr)


def test_401_echo_is_redacted_in_verbose_body(tspush, certs):
    with RecordingServer(tls=True, certs=certs, responder=echo_auth) as srv:
        r = tspush(*push_args(srv, certs, "universe", "42", "-v"))
    assert r.returncode == 3
    assert 'response: cannot authorize request with auth tokens ["Basic ***"]' in r.stdout
    assert_no_secret(r.stdout, r.stderr)


def test_400_details_name_the_refused_points(tspush, certs):
    def refuse_odd(req: Request):
        points = json.loads(req.body)
        bad = [p for p in points if p["value"] % 2]
        errors = [{"datapoint": p, "error": "value is odd"} for p in bad]
        doc = {"success": len(points) - len(bad), "failed": len(bad), "errors": errors}
        return 400, {"Content-Type": "application/json"}, json.dumps(doc).encode()

    lines = "".join("put m 17000000%02d %d k=v\n" % (i, i) for i in range(4))
    with RecordingServer(tls=True, certs=certs, responder=refuse_odd) as srv:
        r = tspush(*push_args(srv, certs, "-"), input=lines)
    assert r.returncode == 6
    assert "tspush: refused: m{k=v} = 1 @ 1700000001: value is odd" in r.stderr
    assert "tspush: refused: m{k=v} = 3 @ 1700000003: value is odd" in r.stderr
    assert "4 points in 1 request: 2 accepted, 2 refused" in r.stdout


def test_413_splits_the_batch_until_it_fits(tspush, certs):
    def small_only(req: Request):
        return (413, {}, b"too big") if len(json.loads(req.body)) > 2 else (204, {}, b"")

    lines = "".join("m%d %d\n" % (i, i) for i in range(8))
    with RecordingServer(tls=True, certs=certs, responder=small_only) as srv:
        r = tspush(*push_args(srv, certs, "-"), input=lines)
    assert r.returncode == 0, r.stderr
    sent = [json.loads(q.body) for q in srv.requests if len(json.loads(q.body)) <= 2]
    assert sorted(p["metric"] for batch in sent for p in batch) == sorted(
        "m%d" % i for i in range(8)
    )
    assert "8 points in 7 requests: 8 accepted" in r.stdout


def test_stdin_batches_by_count_and_bytes(tspush, certs):
    lines = "".join("put m.%d 1700000000 %d host=a\n" % (i, i) for i in range(120))
    with RecordingServer(tls=True, certs=certs) as srv:
        r = tspush(*push_args(srv, certs, "-"), input=lines)
        r2 = tspush(*push_args(srv, certs, "-", "--max-bytes", "1000"), input=lines)
    assert r.returncode == 0 and r2.returncode == 0
    counts = [len(json.loads(q.body)) for q in srv.requests[:3]]
    assert counts == [50, 50, 20]
    assert r.stdout.count("HTTP 204") == 3
    assert "120 points in 3 requests: 120 accepted" in r.stdout
    assert all(int(q.header("Content-Length") or 0) <= 1000 for q in srv.requests[3:])
    assert sum(len(json.loads(q.body)) for q in srv.requests[3:]) == 120


def test_auth_failure_stops_and_counts_the_rest_unsent(tspush, certs):
    lines = "".join("m %d\n" % i for i in range(120))
    with RecordingServer(tls=True, certs=certs, responder=respond(401)) as srv:
        r = tspush(*push_args(srv, certs, "-"), input=lines)
    assert r.returncode == 3
    assert len(srv.requests) == 1
    assert "120 points in 1 request: 0 accepted, 120 not sent" in r.stdout


@pytest.mark.parametrize(
    "args, stdin, message",
    [
        (["m", "abc"], None, "value 'abc' is not a number"),
        (["bad metric!", "1"], None, "has the character ' '"),
        (["m", "1", "-t", "novalue"], None, "write tags as key=value"),
        (["m", "1", "--timestamp", "yesterday"], None, "use 'now' or Unix seconds"),
        (["m", "nan"], None, "not finite"),
        (["m", "1", "--strict"], None, "no tags"),
        (["-"], "m 1\nput m 17 x\n", "stdin line 2"),
        (["-"], "m 1\n{bad json\n", "stdin line 2: not valid JSON"),
        (["-"], "", "stdin held no points"),
    ],
)
def test_bad_input_exit_2_and_nothing_sent(tspush, certs, args, stdin, message):
    with RecordingServer(tls=True, certs=certs) as srv:
        r = tspush(*push_args(srv, certs, *args), input=stdin)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert message in r.stderr
    assert srv.requests == []


def test_skip_bad_sends_the_good_and_still_fails(tspush, certs):
    with RecordingServer(tls=True, certs=certs) as srv:
        r = tspush(*push_args(srv, certs, "-", "--skip-bad"), input="a 1\nb x\nc 3\n")
    assert r.returncode == 2
    assert "stdin line 2" in r.stderr
    assert [p["metric"] for p in json.loads(srv.requests[0].body)] == ["a", "c"]


def test_token_from_env_and_token_file(tspush, certs, tmp_path):
    tf = tmp_path / "token"
    tf.write_text(TOKEN + "\n")
    tf.chmod(0o600)
    with RecordingServer(tls=True, certs=certs) as srv:
        base = ["push", "--url", srv.url, "--fingerprint", pin(certs), "m", "1"]
        r1 = tspush(*base, env={"TSPUSH_TOKEN": TOKEN})
        r2 = tspush(*base, "--token-file", str(tf))
    assert r1.returncode == 0 and r2.returncode == 0, (r1.stderr, r2.stderr)
    assert [q.header("Authorization") for q in srv.requests] == [BASIC, BASIC]
    assert r2.stderr == ""
