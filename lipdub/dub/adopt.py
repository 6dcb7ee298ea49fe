"""Bring your own artifacts: a transcript or translation file the user hands the run.

The file (JSON, or SRT/VTT with its language; read as transcripts are, so a bad
encoding, a folder or a pipe is one clear error) is copied into the work directory under the
stage's artifact name as *the user's* file, so the stage uses it and never overwrites
it; a different earlier edit there is moved aside to a timestamped backup first.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lipdub import artifacts
from lipdub._io import atomic_write_text
from lipdub.dub.runner import stage_id
from lipdub.errors import InputError
from lipdub.types import Transcript

if TYPE_CHECKING:
    from lipdub.dub.runner import Run

__all__ = ["adopt_user_file"]


def adopt_user_file(run: Run, given: Path, stage: str, target: str | None) -> None:
    """Copy a user's transcript/translation file into the work directory as theirs."""
    language = target or run.source_language
    if given.suffix.lower() in (".srt", ".vtt") and language is None:
        raise InputError(
            "an SRT transcript does not say its language",
            path=given,
            hint="pass the spoken language with --from LANG",
        )
    loaded = Transcript.load(given, language)
    if target is None:  # the source transcript
        name = artifacts.transcript(loaded.language)
    else:
        name = artifacts.translation(target)
    dest = run.wd.path(name)
    rec = run.wd.get(stage_id(stage, target))
    if (
        dest.is_file()
        and run.wd.state(dest, rec) == "edited"
        and dest.read_text(encoding="utf-8-sig") != loaded.to_json()
    ):
        backup = run.wd.move_aside(dest)
        run.notice(stage, f"moved your previous {name} aside to {backup.name}")
    atomic_write_text(dest, loaded.to_json())
    if target is not None:  # a translation, and its SRT copy
        srt = run.wd.path(artifacts.translation_srt(target))
        if srt.is_file() and run.wd.state(srt, rec) == "edited":
            backup = run.wd.move_aside(srt)
            run.notice(stage, f"moved your previous {srt.name} aside to {backup.name}")
        srt.unlink(missing_ok=True)
    run.keep = run.keep | {stage}
    run.notice(stage, f"using {given} as {name}")
