import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

import pytest  # noqa: E402


@pytest.fixture
def victoria(tmp_path):
    """A fresh VictoriaMetrics for one test (skipped where it is not installed)."""
    from support.vm import VictoriaMetrics, available

    if not available():
        pytest.fail("victoria-metrics is not installed: run .ci/run (it installs it)")
    vm = VictoriaMetrics(tmp_path / "vm")
    vm.start()
    yield vm
    vm.stop()
