"""Rewrite the generated parts of docs/agent.md and the sample config from the declarations.

Run after changing an ``Option`` (a source's ``OPTIONS``, or those of
``tspush.host.agent_config``): ``python tools/config_docs.py``.
tests/agent/test_agent_config.py fails while the files and the declarations differ.
"""

from __future__ import annotations

from pathlib import Path

from tspush.host import agent_config
from tspush.host.options import replace_section

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    for rel, parts in agent_config.generated().items():
        path = ROOT / rel
        text = path.read_text()
        for name, body in parts.items():
            text = replace_section(text, name, body, agent_config.comment_of(rel))
        path.write_text(text)
        print("wrote", rel)


if __name__ == "__main__":
    main()
