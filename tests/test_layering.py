"""The floors hold by themselves: no import runs back up.

core <- device (the board); core <- host <- cli; core <- receiver <- cli;
core <- ingest (an /api/put request, no web framework) <- host, receiver.
The board must never pull in computer-only code (it would not even import
there), and core stays the one thing everything shares. Function-level
(lazy) imports count too: they run on the board just the same.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "src/tspush"

# What each floor may import from tspush, besides itself and the top package.
ALLOWED = {
    "core": set(),
    "device": {"core"},
    "ingest": {"core"},
    "host": {"core", "ingest"},
    "receiver": {"core", "ingest"},
    "cli": {"core", "device", "host", "ingest", "receiver"},
}


def _tspush_imports(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        else:
            continue
        for n in names:
            parts = n.split(".")
            if parts[0] == "tspush" and len(parts) > 1:
                out.append((node.lineno, parts[1]))
    return out


@pytest.mark.parametrize("floor", sorted(ALLOWED))
def test_no_import_runs_back_up(floor: str) -> None:
    files = sorted((PKG / floor).rglob("*.py"))
    assert files, floor
    bad = []
    for path in files:
        for line, target in _tspush_imports(path):
            if target != floor and target not in ALLOWED[floor] and target != "__init__":
                bad.append(f"{path.relative_to(PKG.parent)}:{line} imports tspush.{target}")
    assert not bad, "\n".join(bad)


def test_the_check_sees_a_lazy_import(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text("def f():\n    from tspush.host import transport\n")
    assert _tspush_imports(f) == [(2, "host")]


def test_every_package_is_a_floor_of_the_table() -> None:
    """A new package must say what it may import, or it escapes the check."""
    packages = {p.name for p in PKG.iterdir() if (p / "__init__.py").exists()}
    assert packages == set(ALLOWED)
