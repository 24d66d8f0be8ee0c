"""What a client sends cannot forge a log line or drive the terminal (issue 13, item 11).

A path with an escape sequence (unauthenticated) and a metric name with a
newline used to land raw in ``tspush serve``'s output.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import urllib3

from support.receiver import ReceiverProcess

ESC_PATH = "/%1b]0;owned%07%1b[2J%1b[31mred%0a12:00:00 POST /api/put from 10.0.0.9: 5 stored"
FORGED = "x\n12:00:00 POST /api/put from 10.0.0.9: 100 stored\u2028\x1b[2Jgone\x9b31m"


def test_control_characters_from_clients_are_escaped_in_the_log(tmp_path: Path) -> None:
    with ReceiverProcess(tmp_path) as rx:
        r = urllib3.request("POST", rx.url + ESC_PATH, body=b"[]", timeout=30, retries=False)
        assert r.status == 404  # no token needed to be refused, and logged
        r = urllib3.request(
            "POST",
            rx.url + ESC_PATH,
            body=b"[]",
            headers=rx.write_headers(),
            timeout=30,
            retries=False,
        )
        assert r.status == 404
        points = [
            {"metric": FORGED, "timestamp": 1_700_000_000, "value": 1},
            {"metric": "ok", "timestamp": 1_700_000_000, "value": 1, "tags": {"k": FORGED}},
        ]
        r = urllib3.request(
            "POST",
            rx.url + "/api/put",
            body=json.dumps(points).encode(),
            headers=rx.write_headers(),
            timeout=30,
            retries=False,
        )
        assert r.status == 400
    out = rx.text
    for bad in ("\x1b", "\x07", "\x9b", "\u2028"):
        assert bad not in out, repr(bad)
    # No line of the output is one the client wrote.
    forged = [ln for ln in out.splitlines() if re.match(r"^12:00:00 POST", ln)]
    assert forged == [], forged
    assert "\\x1b]0;owned\\x07" in out  # shown, escaped, so the refusal can still be read
    assert "\\x0a12:00:00" in out or "\\n12:00:00" in out
