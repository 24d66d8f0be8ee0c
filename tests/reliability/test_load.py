"""A bounded load on the receiver: 50 concurrent clients (8 s here; the 30 s
figure in docs/reliability.md comes from ``loadrun.py 50 30``). No errors,
every acknowledged point stored, memory bounded, the server still up."""

from __future__ import annotations

from pathlib import Path

import pytest

from .figures import record
from .loadrun import run_load


@pytest.mark.slow
def test_fifty_clients_are_served_without_errors(tmp_path: Path) -> None:
    res = run_load(50, 8.0, tmp_path)
    record("receiver load, 50 clients", **res)
    assert res["alive_after"]
    assert res["errors"] == 0, res["error_kinds"]
    assert res["stored_points"] == res["acknowledged_points"] > 0
    assert res["receiver_rss_peak_mib"] < 300
