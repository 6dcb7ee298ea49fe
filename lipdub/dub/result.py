"""What a dub run returns per language, and the summary ``lipdub dub`` prints."""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

from lipdub import artifacts
from lipdub.dub.state import (
    Mixed,
    Spoken,
    Subtitled,
    Synced,
    Target,
    Transcribed,
    Translated,
)
from lipdub.types import Transcript

if TYPE_CHECKING:
    from lipdub.dub.report import TimingReport
    from lipdub.dub.runner import Run

__all__ = ["DubResult", "result_of", "versions"]


@dataclass(frozen=True)
class DubResult:
    """What a :meth:`DubbingPipeline.run` produced for one target language.

    ``output`` is None when the run stopped early (``stop_after``). ``ran``, ``reused``
    and ``yours`` list the stages that did work, those served from the work directory,
    and those whose artifact is the user's edit (kept and used); ``timings`` gives each
    stage's seconds, ``notices`` what the user should know (files adopted or moved
    aside, empty lines).
    """

    output: Path | None
    workdir: Path
    source: Transcript
    translation: Transcript | None
    timing: TimingReport | None
    subtitles: tuple[Path, ...] = ()
    speech_audio: Path | None = None
    dub_audio: Path | None = None
    frames_total: int = 0
    frames_synced: int = 0
    frames_passed_through: int = 0
    ran: tuple[str, ...] = ()
    reused: tuple[str, ...] = ()
    yours: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    notices: tuple[str, ...] = ()

    def describe(self) -> str:
        """A short human summary (what ``lipdub dub`` prints)."""
        lines = []
        if self.output is not None:
            lines.append(f"wrote {self.output}")
        else:
            lines.append(f"stopped early; artifacts in {self.workdir}")
        for p in self.subtitles:
            lines.append(f"wrote {p}")
        if self.dub_audio is not None:
            lines.append(f"dubbed audio: {self.dub_audio}")
        if self.timing is not None and self.translation is not None:
            lines.append(
                f"timing report: {self.workdir / artifacts.timing(self.translation.language)}"
            )
        if self.timing is not None:
            t = self.timing
            lines.append(
                f"segments: {len(t.segments)}, delayed: {len(t.delayed)}, "
                f"cut (too long for their time): {len(t.cut)}, not fitted: {len(t.unfitted)}"
            )
            lines.extend(
                f"  cut: line {s.index + 1} ({s.text[:40]!r}): {s.cut_s:.2f} s of "
                f"{s.speech_s + s.cut_s:.2f} s not heard"
                for s in t.cut
            )
        if self.frames_total:
            lines.append(
                f"frames: {self.frames_total} total, {self.frames_synced} lip-synced, "
                f"{self.frames_passed_through} passed through"
            )
        if self.yours:
            lines.append(f"your edits used: {', '.join(self.yours)}")
        lines.append(f"reused: {', '.join(self.reused) or 'nothing'}")
        lines.append(f"ran: {', '.join(self.ran) or 'nothing'}")
        if self.timings:
            parts = ", ".join(f"{k} {v:.1f} s" for k, v in self.timings.items())
            lines.append(f"time: {parts}; total {sum(self.timings.values()):.1f} s")
        return "\n".join(lines)


def versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for pkg in ("lipdub", "torch", "av", "numpy"):
        with contextlib.suppress(PackageNotFoundError):
            out[pkg] = version(pkg)
    return out


def result_of(run: Run, state: object, lang: object) -> DubResult:
    """The result for one language from the states the run's stages left."""
    assert isinstance(state, Transcribed), "a run stops at the earliest after transcribe"
    assert isinstance(lang, Target)
    target = lang.target
    mine = {
        sid.split(":")[0]: outcome
        for sid, outcome in run.outcomes.items()
        if ":" not in sid or sid.endswith(f":{target}")
    }
    by = {"ran": [], "reused": [], "yours": []}  # type: dict[str, list[str]]
    for name, (outcome, _) in mine.items():
        by[outcome].append(name)
    speech = run.wd.path(artifacts.speech(target))
    dub = run.wd.path(artifacts.dub(target))
    total = lang.frames_total if isinstance(lang, Synced) else 0
    synced = lang.frames_synced if isinstance(lang, Synced) else 0
    return DubResult(
        output=lang.output if isinstance(lang, Synced) else None,
        workdir=run.wd.root,
        source=state.source,
        translation=lang.translation if isinstance(lang, Translated) else None,
        timing=lang.timing if isinstance(lang, Spoken) else None,
        subtitles=lang.subtitles if isinstance(lang, Subtitled) else (),
        speech_audio=speech if isinstance(lang, Spoken) else None,
        dub_audio=dub if isinstance(lang, Mixed) else None,
        frames_total=total,
        frames_synced=synced,
        frames_passed_through=total - synced,
        ran=tuple(by["ran"]),
        reused=tuple(by["reused"]),
        yours=tuple(by["yours"]),
        timings={name: round(sec, 3) for name, (_, sec) in mine.items()},
        notices=tuple(run.notices),
    )
