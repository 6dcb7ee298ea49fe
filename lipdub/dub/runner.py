"""The one rule that runs every stage of a dub: reuse, adopt the user's edit, or redo.

A stage declares its artifacts (primary first), its key (content hashes of its
inputs plus the declared :meth:`~lipdub.component.Component.settings` of the
components it uses) and how to ``load`` a kept result, ``compute`` a new one and
``save`` it. :func:`run_stage` decides, from the work directory's record
(:mod:`lipdub.dub.workdir`):

======================================  =============================================
situation                               what happens
======================================  =============================================
same key, files as lipdub wrote them    reused
the user edited a text artifact         kept and used; downstream stages redo
  (or placed it there before the stage  (a placed file, or one found after the
  ran, or the manifest was lost)        manifest was lost, is used with a notice)
...and the stage's inputs changed too   :class:`~lipdub.errors.EditConflict`; nothing
                                        is overwritten (``keep`` / ``redo`` decide)
anything else (new key, missing or      computed and saved (atomically); damaged
damaged media)                          outputs are redone
======================================  =============================================

The stages themselves are in :mod:`lipdub.dub.stages`.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from lipdub.errors import (
    EditConflict,
    LipdubError,
    PipelineError,
)
from lipdub.events import (
    CancelSignal,
    EventCallback,
    StageFinished,
    StageStarted,
    StageWarning,
    check_cancel,
    emit,
)

if TYPE_CHECKING:
    from lipdub.component import Component
    from lipdub.dub.options import DubOptions
    from lipdub.dub.pipeline import DubbingPipeline
    from lipdub.dub.workdir import Workdir
    from lipdub.types import VideoInfo

__all__ = ["Lang", "Run", "Stage", "component_identity", "run_stage"]

logger = logging.getLogger(__name__)


def component_identity(component: Component) -> dict[str, Any]:
    """What identifies a component's output in a key: its class, name and settings."""
    return {
        "class": type(component).__qualname__,
        "name": component.name,
        "settings": component.settings(),
    }


# --------------------------------------------------------------------------- run state


@dataclass
class Lang:
    """One target language of a run: its output and what its stages produced."""

    target: str
    output: Path
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class Run:
    """Everything the stages of one :meth:`DubbingPipeline.run` share.

    ``values`` holds what the language-independent stages produced (the source audio,
    transcript, background, face track); each :class:`Lang` holds its own.
    """

    pipeline: DubbingPipeline
    wd: Workdir
    input: Path
    input_key: str
    info: VideoInfo
    options: DubOptions
    source_language: str | None
    text: str | None
    voice: str | None
    stop_after: str | None
    redo: frozenset[str]
    keep: frozenset[str]
    on_event: EventCallback | None
    cancel: CancelSignal | None
    values: dict[str, Any] = field(default_factory=dict)
    #: stage id -> ("ran" | "reused" | "yours", seconds)
    outcomes: dict[str, tuple[str, float]] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    redone: set[str] = field(default_factory=set)

    def notice(self, stage: str, message: str) -> None:
        """Tell the user something worth knowing (a warning event and the log)."""
        logger.warning("%s", message)
        self.notices.append(message)
        emit(self.on_event, StageWarning(stage, message=message))


# --------------------------------------------------------------------------- the rule


class Stage(ABC):
    """One step of a dub: inputs -> key -> artifacts."""

    #: Stage name (``--stop-after``, ``--redo`` and events use it).
    name: ClassVar[str]
    #: Done once per target language (else once per run).
    per_language: ClassVar[bool] = False
    #: Its artifacts are text a person may edit; edits are kept, never overwritten.
    editable: ClassVar[bool] = False
    #: The stage reports its own StageStarted/StageFinished events (the lip-sync engine).
    own_events: ClassVar[bool] = False

    def stage_id(self, lang: Lang | None) -> str:
        """The manifest entry: ``"translate:es"`` for per-language stages."""
        return f"{self.name}:{lang.target}" if lang is not None else self.name

    def applies(self, run: Run, lang: Lang | None) -> bool:
        """Whether this run needs the stage at all."""
        return True

    @abstractmethod
    def artifacts(self, run: Run, lang: Lang | None) -> list[Path]:
        """The files the stage writes, primary first ([] when not known before it runs)."""

    @abstractmethod
    def key(self, run: Run, lang: Lang | None) -> str:
        """Content hashes of the inputs plus the declared settings of the components."""

    @abstractmethod
    def load(self, run: Run, lang: Lang | None) -> list[Path]:
        """Read the kept artifacts into the run; returns files it had to (re)write."""

    @abstractmethod
    def compute(self, run: Run, lang: Lang | None) -> list[Path]:
        """Do the work, save the artifacts atomically, return the files written."""

    def info(self, run: Run, lang: Lang | None) -> dict[str, Any]:
        """Facts to keep in the manifest beside the key."""
        return {}

    def check(self, run: Run, lang: Lang | None) -> None:  # noqa: B027 (optional hook)
        """Validate the result (loaded or computed) before later stages use it."""

    def progress(self, run: Run, lang: Lang | None) -> tuple[float | None, str]:
        """Total amount of work and its unit, for the StageStarted event."""
        return None, ""

    def reusable(self, states: Mapping[Path, str]) -> bool:
        """Whether the kept files are enough to reuse the stage (all as lipdub wrote)."""
        return bool(states) and all(s == "ours" for s in states.values())


def run_stage(stage: Stage, run: Run, lang: Lang | None) -> None:
    """Reuse, adopt, or compute one stage instance (see the module docstring)."""
    if not stage.applies(run, lang):
        return
    check_cancel(run.cancel, stage.name)
    wd = run.wd
    sid = stage.stage_id(lang)
    detail = lang.target if lang is not None else ""
    total, unit = stage.progress(run, lang)
    t0 = time.perf_counter()
    if not stage.own_events:
        emit(run.on_event, StageStarted(stage.name, total=total, unit=unit, detail=detail))
    try:
        outcome = _decide_and_do(stage, run, lang, sid)
        stage.check(run, lang)
    except (LipdubError, KeyboardInterrupt):
        raise
    except Exception as e:
        raise PipelineError(
            f"the dub failed at the {stage.name!r} stage: {type(e).__name__}: {e}",
            path=run.input,
            hint=f"artifacts so far are kept in {wd.root}; fix the cause and re-run to resume",
        ) from e
    elapsed = time.perf_counter() - t0
    run.outcomes[sid] = (outcome, elapsed)
    if stage.own_events and outcome != "ran":
        emit(run.on_event, StageStarted(stage.name, total=total, unit=unit, detail=detail))
    if not stage.own_events or outcome != "ran":
        emit(
            run.on_event,
            StageFinished(stage.name, elapsed_s=elapsed, reused=outcome != "ran", detail=detail),
        )


def _decide_and_do(stage: Stage, run: Run, lang: Lang | None, sid: str) -> str:
    wd = run.wd
    key = stage.key(run, lang)
    rec = wd.get(sid)
    paths = stage.artifacts(run, lang)
    if (stage.name in run.redo) and sid not in run.redone:
        run.redone.add(sid)
        for p in paths:
            if stage.editable and wd.state(p, rec) == "edited":
                backup = wd.move_aside(p)
                run.notice(stage.name, f"moved your {p.name} aside to {backup.name} (--redo)")
        wd.forget(sid)
        rec = None
    states = {p: wd.state(p, rec) for p in paths}
    edited = [p for p, s in states.items() if s == "edited"]
    primary_here = bool(paths) and states[paths[0]] != "missing"

    if stage.editable and edited and primary_here:
        if rec is not None and rec.key != key and stage.name not in run.keep:
            name = edited[0].name
            raise EditConflict(
                f"{name} has your edits, but what it was made from changed since "
                f"(the {_upstream_word(stage)}); lipdub did not overwrite it",
                path=edited[0],
                hint=f"keep your edit: --keep {stage.name} (SDK: keep=['{stage.name}']); "
                f"or regenerate it: --redo {stage.name} (your file is first moved aside "
                "to a timestamped .bak)",
            )
        if rec is None:
            run.notice(stage.name, f"using your {paths[0].name} (not written by lipdub)")
        elif rec.key != key:
            run.notice(stage.name, f"keeping your edited {edited[0].name} (--keep)")
        rewritten = stage.load(run, lang)
        # Judge again after loading: a merge of an edited SRT into the JSON makes the
        # JSON the user's too; a missing copy lipdub wrote back is lipdub's.
        users = [p for p in paths if wd.state(p, rec) == "edited" and p not in rewritten]
        ours = [p for p in paths if p.is_file() and p not in users]
        wd.record(sid, key, ours, users=users, **stage.info(run, lang))
        return "yours"

    if stage.editable and edited:  # the primary is missing: keep the stray edit safe
        for p in edited:
            backup = wd.move_aside(p)
            run.notice(stage.name, f"moved your {p.name} aside to {backup.name}")
        states = {p: "missing" for p in paths}

    if rec is not None and rec.key == key and stage.reusable(states):
        rewritten = stage.load(run, lang)
        if rewritten:
            wd.record(sid, key, [p for p in paths if p.is_file()], **{**rec.info})
        return "reused"

    written = stage.compute(run, lang)
    wd.record(sid, key, written, **stage.info(run, lang))
    return "ran"


def _upstream_word(stage: Stage) -> str:
    return {
        "transcribe": "audio, the language asked (--from), the transcriber's settings "
        "or the given text",
        "translate": "transcript or the translator's settings",
        "faces": "transcript, the speakers, the scorer or the --face choice",
        "voices": "speaker turns or the voice they are cut from",
    }.get(stage.name, "inputs")
