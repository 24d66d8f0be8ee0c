"""The computer side starts on Windows: no POSIX-only module is needed to run.

Windows has no ``fcntl``, ``termios``, ``pwd``, ``grp`` or ``resource``;
an import of one of them at the top of a host module stopped ``tspush run``
and ``serve --forward`` there. Each check runs in a fresh interpreter where
tspush's own modules cannot import those (as on Windows), with a stand-in
``msvcrt`` (tests/host/winshim) so the Windows spool lock is exercised.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIM = Path(__file__).resolve().parent / "winshim"
POSIX_ONLY = ("fcntl", "termios", "pwd", "grp", "resource")

PRELUDE = textwrap.dedent(
    f"""
    import sys
    if "--with-msvcrt" in sys.argv:  # only where asked: stdlib takes msvcrt for "Windows"
        sys.argv.remove("--with-msvcrt")
        sys.path.insert(0, {str(SHIM)!r})
        import msvcrt  # the stand-in takes its POSIX lock primitive now
        sys.path.pop(0)
    class HidePosix:
        # POSIX-only modules are refused to tspush's own code; libraries keep
        # their Linux back-ends (psutil imports resource here, not on Windows).

        def find_spec(self, name, path=None, target=None):
            if name not in {POSIX_ONLY!r}:
                return None
            f = sys._getframe(1)
            while f is not None and f.f_code.co_filename.startswith("<frozen"):
                f = f.f_back
            if f is not None and f.f_globals.get("__name__", "").startswith("tspush"):
                raise ModuleNotFoundError("No module named %r (Windows)" % name)
            return None

    for name in {POSIX_ONLY!r}:
        sys.modules.pop(name, None)
    sys.meta_path.insert(0, HidePosix())
    """
)


def _run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def _host_modules() -> list[str]:
    pkg = ROOT / "src/tspush"
    names = []
    for sub in ("host", "cli", "ingest", "receiver"):
        for p in sorted((pkg / sub).rglob("*.py")):
            rel = p.relative_to(pkg.parent).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts.pop()
            names.append(".".join(parts))
    return names


def _guarded(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Inside ``try: ... except ImportError`` or an ``if`` on the platform."""
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.Try):
            for h in node.handlers:
                names = ast.unparse(h.type) if h.type is not None else "BaseException"
                if "ImportError" in names or "ModuleNotFoundError" in names:
                    return True
        if isinstance(node, ast.If) and re.search(r"platform|os\.name", ast.unparse(node.test)):
            return True
    return False


def test_no_host_module_needs_a_posix_only_module() -> None:
    """A static read: a library import inside tspush would hide a dynamic check's miss."""
    files = [
        p
        for sub in ("host", "cli", "ingest", "receiver")
        for p in (ROOT / "src/tspush" / sub).rglob("*.py")
    ]
    assert any(p.name == "spoollock.py" for p in files)
    bad = []
    for path in files:
        tree = ast.parse(path.read_text())
        parents = {c: n for n in ast.walk(tree) for c in ast.iter_child_nodes(n)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                mods = [node.module.split(".")[0]]
            else:
                continue
            for m in mods:
                if m in POSIX_ONLY and not _guarded(node, parents):
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {m}")
    assert not bad, "unguarded POSIX-only imports (Windows cannot start):\n" + "\n".join(bad)


def test_every_host_module_imports_when_tspush_cannot_reach_posix_modules() -> None:
    r = _run(
        """
        import importlib, sys
        bad = []
        for name in sys.argv[1:]:
            try:
                importlib.import_module(name)
            except ImportError as e:
                bad.append("%s: %s" % (name, e))
        print("\\n".join(bad) or "ok")
        """,
        *_host_modules(),
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok", r.stdout


def test_the_spool_lock_works_without_fcntl(tmp_path: Path) -> None:
    """Two holders of one spool: the second is refused with the first one's pid."""
    r = _run(
        """
        import os, sys
        from pathlib import Path
        from tspush.core.errors import SpoolError
        import msvcrt
        from tspush.host.spoollock import lock_spool

        d = Path(sys.argv[1])
        held = lock_spool(d)
        assert (d / "lock").read_text() == str(os.getpid())
        pid = os.fork()
        if pid == 0:  # another process, as a second tspush would be
            try:
                lock_spool(d)
            except SpoolError as e:
                os._exit(0 if "pid %d" % os.getppid() in str(e) else 3)
            os._exit(4)
        _, status = os.waitpid(pid, 0)
        held.close()
        again = lock_spool(d)  # released: the next one gets it
        again.close()
        assert msvcrt.calls == 2, msvcrt.calls  # the Windows path, not fcntl
        print("refused-then-free" if os.waitstatus_to_exitcode(status) == 0 else status)
        """,
        str(tmp_path / "spool"),
        "--with-msvcrt",
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "refused-then-free"


@pytest.mark.parametrize("module", POSIX_ONLY)
def test_the_prelude_really_hides_posix_modules(module: str) -> None:
    """From a tspush module the import fails; from anywhere else it works."""
    r = _run(
        f"""
        import types
        m = types.ModuleType("tspush.probe")
        exec("import {module}", m.__dict__)
        """
    )
    assert r.returncode != 0 and "ModuleNotFoundError" in r.stderr
    assert _run(f"import {module}").returncode == 0
