"""The documentation's code runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), re.S)


def test_backends_doc_example_runs() -> None:
    blocks = _python_blocks(ROOT / "docs" / "backends.md")
    assert blocks, "docs/backends.md lost its example"
    namespace: dict[str, object] = {"__name__": "docs_example"}
    exec(compile(blocks[0], "docs/backends.md", "exec"), namespace)
    from lipdub import registry

    assert registry.entry("voice", "beep").source == "user"
