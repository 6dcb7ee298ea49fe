"""The stages' data is typed: mypy rejects a stage that reads what no earlier stage made.

Three small files are checked by ``mypy --strict`` against this checkout's ``lipdub``:
a stage that reads a field its input state does not have, a plan that puts a stage
before the one producing its input, and a correct stage and plan (so the errors come
from the mistakes, not from the set-up).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mypy")

ROOT = Path(__file__).resolve().parents[1]

_HEAD = """\
from pathlib import Path

from lipdub.dub.runner import Plan, Run, Stage
from lipdub.dub.stages import Extract, Speak, Transcribe, Translate
from lipdub.dub.state import Extracted, Start, Target, Transcribed, advance


"""

_STAGE = """\
class Echo(Stage[Extracted, Transcribed]):
    name = "echo"

    def artifacts(self, run: Run, st: Extracted) -> list[Path]:
        return []

    def key(self, run: Run, st: Extracted) -> str:
        return {READ}

    def load(self, run: Run, st: Extracted) -> tuple[Transcribed, list[Path]]:
        raise NotImplementedError

    def compute(self, run: Run, st: Extracted) -> tuple[Transcribed, list[Path]]:
        return self.load(run, st)
"""

GOOD = (
    _HEAD
    + _STAGE.replace("{READ}", "str(st.audio_key)")
    + """
PLAN = Plan[Start, Target]().then(Extract()).then(Echo())
UNUSED = (Speak, Transcribe, Translate, advance)
"""
)

#: ``source`` comes from the transcribe stage; this stage runs on the extract's output.
READS_TOO_EARLY = _HEAD + _STAGE.replace("{READ}", "str(st.source.language)")

#: ``speak`` needs the translation (and the speaker analysis); here it follows extract.
OUT_OF_ORDER = (
    _HEAD
    + """
PLAN = Plan[Start, Target]().then(Extract()).each(Speak())
UNUSED = (Translate, Transcribed, advance)
"""
)


def _mypy(tmp_path: Path, files: dict[str, str]) -> dict[str, list[str]]:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    env = {**os.environ, "MYPYPATH": str(ROOT)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--follow-imports=silent",
            "--no-error-summary",
            "--cache-dir",
            str(tmp_path / ".mypy_cache"),
            "--config-file",
            str(ROOT / "pyproject.toml"),
            *sorted(files),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode in (0, 1), proc.stderr + proc.stdout
    errors: dict[str, list[str]] = {name: [] for name in files}
    for line in proc.stdout.splitlines():
        name = line.split(":", 1)[0]
        if name in errors and ": error:" in line:
            errors[name].append(line)
    return errors


@pytest.mark.slow  # a cold mypy run: about 30 s
def test_mypy_rejects_a_stage_that_reads_a_field_no_earlier_stage_made(tmp_path: Path) -> None:
    errors = _mypy(
        tmp_path,
        {"good.py": GOOD, "too_early.py": READS_TOO_EARLY, "out_of_order.py": OUT_OF_ORDER},
    )

    assert errors["good.py"] == []
    assert len(errors["too_early.py"]) == 1
    assert '"Extracted" has no attribute "source"' in errors["too_early.py"][0]
    assert len(errors["out_of_order.py"]) == 1
    assert 'Argument 1 to "each" of "Plan"' in errors["out_of_order.py"][0]
    assert '"Speak"' in errors["out_of_order.py"][0]


def test_the_plan_alone_names_the_stop_points_and_the_stages() -> None:
    from lipdub.cli import build_parser
    from lipdub.dub.stages import NAMES, PLAN, STOPS

    assert STOPS == ("transcribe", "translate", "speak", "lipsync")
    assert tuple(dict.fromkeys(step.stage.name for step in PLAN.steps)) == NAMES
    assert set(STOPS) <= set(NAMES)
    dub = build_parser()._subparsers._group_actions[0].choices["dub"]  # type: ignore[union-attr]
    (stop_after,) = [a for a in dub._actions if "--stop-after" in a.option_strings]
    assert tuple(stop_after.choices) == STOPS
