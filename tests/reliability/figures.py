"""Result figures of reliability tests, for docs/reliability.md.

``record("test name", settings..., results...)`` prints one JSON line and,
when ``TSPUSH_RELIABILITY_FIGURES`` names a file, appends it there too:
``TSPUSH_RELIABILITY_FIGURES=/tmp/fig.jsonl pytest tests/reliability``.
"""

from __future__ import annotations

import json
import os
from typing import Any


def record(test: str, **figures: Any) -> None:
    line = json.dumps({"test": test, **figures}, sort_keys=True, default=str)
    print("FIGURES " + line)
    path = os.environ.get("TSPUSH_RELIABILITY_FIGURES")
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")
