"""Sources: what each reads, how it fails, and that failures say what to check."""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

import pytest

from tspush.core.errors import TspushError
from tspush.core.point import Point, check
from tspush.host.sources import (
    CommandSource,
    ConstantSource,
    FileSource,
    StdinSource,
    SystemSource,
    build,
)

NOW = 1712345678


def test_constant_is_the_original_universe_42_with_tags() -> None:
    src = ConstantSource(tags={"host": "bench"})
    assert src.name == "constant" and src.interval_s == 10.0
    assert src.read(NOW) == [Point("universe", 42, NOW, {"host": "bench"})]


def test_system_source_reads_real_values_and_they_are_valid_points() -> None:
    src = SystemSource(tags={"host": "h1"}, disks=["/", "/no/such/mount"])
    points = src.read(NOW)
    names = {p.metric for p in points}
    assert {"sys.cpu.percent", "sys.mem.used_percent", "sys.load.1m", "sys.uptime_s"} <= names
    disk = [p for p in points if p.metric == "sys.disk.used_percent"]
    assert [p.tags["path"] for p in disk] == ["/"]  # the missing mount is skipped, not fatal
    assert 0 <= disk[0].value <= 100
    for p in points:
        assert check(p) is None, p
        assert p.ts == NOW and p.tags["host"] == "h1"


def test_command_source_parses_put_lines_metric_lines_and_json(tmp_path: Path) -> None:
    script = tmp_path / "emit.py"
    script.write_text(
        "import sys\n"
        "mode = sys.argv[1]\n"
        "if mode == 'lines':\n"
        "    print('put a.b 1700000000 1.5 k=v')\n"
        "    print('# comment')\n"
        "    print('c.d 7 room=kitchen')\n"
        "else:\n"
        '    print(\'[{"metric":"j","value":3,"tags":{"x":"y"}}]\')\n'
    )
    src = CommandSource([sys.executable, str(script), "lines"], tags={"host": "h"})
    assert src.read(NOW) == [
        Point("a.b", 1.5, 1700000000, {"host": "h", "k": "v"}),
        Point("c.d", 7, NOW, {"host": "h", "room": "kitchen"}),
    ]
    js = CommandSource(f"{sys.executable} {script} json")
    assert js.read(NOW) == [Point("j", 3, NOW, {"x": "y"})]


def test_command_source_failures_name_the_command(tmp_path: Path) -> None:
    with pytest.raises(TspushError, match="exited with 3: boom"):
        CommandSource(
            [sys.executable, "-c", "import sys; print('boom', file=sys.stderr); sys.exit(3)"]
        ).read(NOW)
    with pytest.raises(TspushError, match="not found"):
        CommandSource(["/no/such/program"]).read(NOW)
    with pytest.raises(TspushError, match="ran over"):
        CommandSource([sys.executable, "-c", "import time; time.sleep(5)"], timeout_s=0.3).read(NOW)
    with pytest.raises(TspushError, match="not a number"):
        CommandSource([sys.executable, "-c", "print('temp hot')"]).read(NOW)


def test_file_source_scale_offset_and_w1_slave(tmp_path: Path) -> None:
    thermal = tmp_path / "temp"
    thermal.write_text("48250\n")
    assert FileSource(str(thermal), "cpu.temp", scale=0.001).read(NOW)[0].value == pytest.approx(
        48.25
    )
    assert FileSource(str(thermal), "raw").read(NOW)[0].value == 48250
    w1 = tmp_path / "w1_slave"
    w1.write_text("72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n")
    p = FileSource(str(w1), "room.temp", scale=0.001, offset=-0.5, tags={"room": "attic"}).read(NOW)
    assert p[0].value == pytest.approx(22.625) and p[0].tags == {"room": "attic"}
    w1.write_text("72 01 4b 46 7f ff 0e 10 57 : crc=00 NO\n72 01 4b 46 7f ff 0e 10 57 t=85000\n")
    with pytest.raises(TspushError, match="pull-up"):
        FileSource(str(w1), "room.temp").read(NOW)
    with pytest.raises(TspushError, match="cannot read"):
        FileSource(str(tmp_path / "missing"), "x").read(NOW)


def test_stdin_source_gathers_lines_and_skips_bad_ones() -> None:
    stream = io.StringIO("put a 1700000000 1\nnot-a-number-line x\nb 2\n")
    src = StdinSource(stream=stream)
    deadline = time.monotonic() + 60
    while not src.eof and time.monotonic() < deadline:
        time.sleep(0.01)
    got = src.read(NOW)
    assert [(p.metric, p.value) for p in got] == [("a", 1), ("b", 2)]
    assert src.bad_lines == 1
    assert src.read(NOW) == []


def test_build_by_kind() -> None:
    assert isinstance(build("constant", {"value": 1, "interval_s": 2}), ConstantSource)
    with pytest.raises(ValueError, match="use one of"):
        build("nope", {})


def test_stdin_source_bounds_memory_and_loses_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from tspush.host.sources import stdin as stdin_mod

    monkeypatch.setattr(stdin_mod, "MAX_QUEUED_POINTS", 10)
    stream = io.StringIO("".join(f"m {i}\n" for i in range(35)))
    src = StdinSource(stream=stream)
    deadline = time.monotonic() + 60
    while src.queue.qsize() < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    # the reader waits once 10 points are queued: it has not read the rest
    assert src.queue.qsize() == 10 and not src.eof
    got: list[int] = []
    deadline = time.monotonic() + 60
    while len(got) < 35 and time.monotonic() < deadline:
        got.extend(int(p.value) for p in src.read(NOW))
        time.sleep(0.01)
    assert got == list(range(35))
