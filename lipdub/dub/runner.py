"""The one rule that runs every stage of a dub: reuse, adopt the user's edit, or redo.

A stage (:class:`Stage`, once per run; :class:`LangStage`, once per target language)
reads a typed state (:mod:`lipdub.dub.state`) and returns the next one. It declares
its artifacts (primary first), its key (content hashes of its inputs plus the declared
:meth:`~lipdub.component.Component.settings` of the components it uses) and how to
``load`` a kept result, ``compute`` a new one and save it. :func:`run_stage` (and
:func:`run_lang_stage`) decides, from the work directory's record
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

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
    from lipdub.dub.state import Components
    from lipdub.dub.workdir import StageRecord, Workdir
    from lipdub.types import VideoInfo

__all__ = [
    "LangStage",
    "Plan",
    "Run",
    "Stage",
    "Step",
    "component_identity",
    "run_lang_stage",
    "run_stage",
    "stage_id",
]

logger = logging.getLogger(__name__)

_In = TypeVar("_In")
_Out = TypeVar("_Out")
_Src = TypeVar("_Src")
_Src2 = TypeVar("_Src2")
_Lng = TypeVar("_Lng")
_Lng2 = TypeVar("_Lng2")
_M = TypeVar("_M")


def component_identity(component: Component) -> dict[str, Any]:
    """What identifies a component's output in a key: its class, name and settings."""
    return {
        "class": type(component).__qualname__,
        "name": component.name,
        "settings": component.settings(),
    }


# --------------------------------------------------------------------------- run context


@dataclass
class Run:
    """What every stage of one run shares: the input, the work directory, the
    components, the arguments, and the record of what happened.

    What the stages *produce* is not here but in the typed states of
    :mod:`lipdub.dub.state`.
    """

    components: Components
    wd: Workdir
    input: Path
    input_key: str
    info: VideoInfo
    options: DubOptions
    targets: tuple[str, ...]
    source_language: str | None
    text: str | None
    voice: str | None
    redo: frozenset[str]
    keep: frozenset[str]
    on_event: EventCallback | None
    cancel: CancelSignal | None
    #: stage id -> ("ran" | "reused" | "yours", seconds)
    outcomes: dict[str, tuple[str, float]] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    redone: set[str] = field(default_factory=set)
    #: Manifest records as they were when a stage instance started (before a redo).
    before: dict[str, StageRecord | None] = field(default_factory=dict)
    _memo: dict[tuple[str, str], Any] = field(default_factory=dict)

    def notice(self, stage: str, message: str) -> None:
        """Tell the user something worth knowing (a warning event and the log)."""
        logger.warning("%s", message)
        self.notices.append(message)
        emit(self.on_event, StageWarning(stage, message=message))

    def memo(self, stage: str, what: str, make: Callable[[], _M]) -> _M:
        """``make()``, once per run (a costly value a stage's methods share)."""
        slot = (stage, what)
        if slot not in self._memo:
            self._memo[slot] = make()
        out: _M = self._memo[slot]
        return out

    def path(self, name: str) -> Path:
        """A file of the work directory (names: :mod:`lipdub.artifacts`)."""
        return self.wd.path(name)


# --------------------------------------------------------------------------- stages


class _Common(ABC):
    #: Stage name (``--stop-after``, ``--redo`` and events use it).
    name: ClassVar[str]
    #: Its artifacts are text a person may edit; edits are kept, never overwritten.
    editable: ClassVar[bool] = False
    #: The stage reports its own StageStarted/StageFinished events (the lip-sync engine).
    own_events: ClassVar[bool] = False
    #: What its artifacts are made from, in words (an edit conflict names it).
    upstream: ClassVar[str] = "inputs"

    def reusable(self, states: Mapping[Path, str]) -> bool:
        """Whether the kept files are enough to reuse the stage (all as lipdub wrote)."""
        return bool(states) and all(s == "ours" for s in states.values())


class Stage(_Common, Generic[_In, _Out]):
    """A step done once per run: reads the state ``_In``, returns the state ``_Out``.

    ``load`` and ``compute`` return the new state and the files they wrote; ``skip``
    the new state when the stage does not apply (its fields None).
    """

    per_language: ClassVar[bool] = False

    def applies(self, run: Run, st: _In) -> bool:
        """Whether this run needs the stage at all."""
        return True

    def skip(self, run: Run, st: _In) -> _Out:
        """The state after the stage when it does not apply."""
        raise NotImplementedError(f"the {self.name} stage always applies")

    @abstractmethod
    def artifacts(self, run: Run, st: _In) -> list[Path]:
        """The files the stage writes, primary first ([] when not known before it runs)."""

    @abstractmethod
    def key(self, run: Run, st: _In) -> str:
        """Content hashes of the inputs plus the declared settings of the components."""

    @abstractmethod
    def load(self, run: Run, st: _In) -> tuple[_Out, list[Path]]:
        """Read the kept artifacts; the new state, and files it had to (re)write."""

    @abstractmethod
    def compute(self, run: Run, st: _In) -> tuple[_Out, list[Path]]:
        """Do the work, save the artifacts atomically; the new state, the files written."""

    def info(self, run: Run, out: _Out) -> dict[str, Any]:
        """Facts to keep in the manifest beside the key."""
        return {}

    def check(self, run: Run, out: _Out) -> None:
        """Validate the result (loaded or computed) before later stages use it."""

    def progress(self, run: Run, st: _In) -> tuple[float | None, str]:
        """Total amount of work and its unit, for the StageStarted event."""
        return None, ""


class LangStage(_Common, Generic[_Src, _In, _Out]):
    """A step done once per target language: reads the run's state ``_Src`` and the
    language's state ``_In``, returns the language's state ``_Out``."""

    per_language: ClassVar[bool] = True

    @abstractmethod
    def artifacts(self, run: Run, src: _Src, st: _In) -> list[Path]:
        """The files the stage writes, primary first."""

    @abstractmethod
    def key(self, run: Run, src: _Src, st: _In) -> str:
        """Content hashes of the inputs plus the declared settings of the components."""

    @abstractmethod
    def load(self, run: Run, src: _Src, st: _In) -> tuple[_Out, list[Path]]:
        """Read the kept artifacts; the new state, and files it had to (re)write."""

    @abstractmethod
    def compute(self, run: Run, src: _Src, st: _In) -> tuple[_Out, list[Path]]:
        """Do the work, save the artifacts atomically; the new state, the files written."""

    def info(self, run: Run, src: _Src, out: _Out) -> dict[str, Any]:
        """Facts to keep in the manifest beside the key."""
        return {}

    def check(self, run: Run, src: _Src, out: _Out) -> None:
        """Validate the result (loaded or computed) before later stages use it."""

    def progress(self, run: Run, src: _Src, st: _In) -> tuple[float | None, str]:
        """Total amount of work and its unit, for the StageStarted event."""
        return None, ""


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Step:
    """One entry of a :class:`Plan`: a stage, and the stop-after name that ends here."""

    stage: Stage[Any, Any] | LangStage[Any, Any, Any]
    stop: str | None


@dataclass(frozen=True)
class Plan(Generic[_Src, _Lng]):
    """The stages of a dub in order, built so that mypy checks the chain.

    ``Plan[S, L]`` is a plan whose run state is ``S`` and language state ``L`` so far;
    :meth:`then` adds a once-per-run stage that reads ``S``, :meth:`each` a
    per-language one that reads ``S`` and ``L``. A stage placed before the one that
    produces what it reads is a type error.
    """

    steps: tuple[Step, ...] = ()

    def then(self, stage: Stage[_Src, _Src2], *, stop: str | None = None) -> Plan[_Src2, _Lng]:
        """The plan with a once-per-run ``stage`` at its end."""
        return Plan((*self.steps, Step(stage, stop)))

    def each(
        self, stage: LangStage[_Src, _Lng, _Lng2], *, stop: str | None = None
    ) -> Plan[_Src, _Lng2]:
        """The plan with a per-language ``stage`` at its end."""
        return Plan((*self.steps, Step(stage, stop)))

    @property
    def names(self) -> tuple[str, ...]:
        """Every stage name (``--redo`` and ``--keep`` take them)."""
        return tuple(dict.fromkeys(s.stage.name for s in self.steps))

    @property
    def stops(self) -> tuple[str, ...]:
        """The ``stop_after`` names, in order (``--stop-after`` takes them)."""
        return tuple(s.stop for s in self.steps if s.stop is not None)

    def walk(
        self, run: Run, start: object, langs: list[object], stop_after: str | None
    ) -> tuple[object, list[object]]:
        """Run every stage (up to ``stop_after``); the run's and languages' last states."""
        state = start
        for step in self.steps:
            stage = step.stage
            if isinstance(stage, LangStage):
                langs = [run_lang_stage(stage, run, state, lang) for lang in langs]
            else:
                state = run_stage(stage, run, state)
            if stop_after is not None and step.stop == stop_after:
                break
        return state, langs


# --------------------------------------------------------------------------- the rule


@dataclass
class _Job(Generic[_Out]):
    """One stage instance, its methods bound to the states it reads."""

    name: str
    sid: str
    detail: str
    editable: bool
    own_events: bool
    upstream: str
    artifacts: Callable[[], list[Path]]
    key: Callable[[], str]
    load: Callable[[], tuple[_Out, list[Path]]]
    compute: Callable[[], tuple[_Out, list[Path]]]
    info: Callable[[_Out], dict[str, Any]]
    check: Callable[[_Out], None]
    progress: Callable[[], tuple[float | None, str]]
    reusable: Callable[[Mapping[Path, str]], bool]


def run_stage(stage: Stage[_In, _Out], run: Run, st: _In) -> _Out:
    """Reuse, adopt, or compute a once-per-run stage (see the module docstring)."""
    if not stage.applies(run, st):
        return stage.skip(run, st)
    job = _Job(
        name=stage.name,
        sid=stage.name,
        detail="",
        editable=stage.editable,
        own_events=stage.own_events,
        upstream=stage.upstream,
        artifacts=lambda: stage.artifacts(run, st),
        key=lambda: stage.key(run, st),
        load=lambda: stage.load(run, st),
        compute=lambda: stage.compute(run, st),
        info=lambda out: stage.info(run, out),
        check=lambda out: stage.check(run, out),
        progress=lambda: stage.progress(run, st),
        reusable=stage.reusable,
    )
    return _run_job(job, run)


def run_lang_stage(stage: LangStage[_Src, _In, _Out], run: Run, src: _Src, st: _In) -> _Out:
    """Reuse, adopt, or compute a per-language stage for the language of ``st``."""
    target = getattr(st, "target", "")
    job = _Job(
        name=stage.name,
        sid=stage_id(stage.name, target),
        detail=target,
        editable=stage.editable,
        own_events=stage.own_events,
        upstream=stage.upstream,
        artifacts=lambda: stage.artifacts(run, src, st),
        key=lambda: stage.key(run, src, st),
        load=lambda: stage.load(run, src, st),
        compute=lambda: stage.compute(run, src, st),
        info=lambda out: stage.info(run, src, out),
        check=lambda out: stage.check(run, src, out),
        progress=lambda: stage.progress(run, src, st),
        reusable=stage.reusable,
    )
    return _run_job(job, run)


def stage_id(name: str, target: str | None) -> str:
    """The manifest entry of a stage instance: ``"translate:es"`` for a language's."""
    return f"{name}:{target}" if target else name


def _run_job(job: _Job[_Out], run: Run) -> _Out:
    check_cancel(run.cancel, job.name)
    total, unit = job.progress()
    t0 = time.perf_counter()
    if not job.own_events:
        emit(run.on_event, StageStarted(job.name, total=total, unit=unit, detail=job.detail))
    try:
        outcome, out = _decide_and_do(job, run)
        job.check(out)
    except (LipdubError, KeyboardInterrupt):
        raise
    except Exception as e:
        raise PipelineError(
            f"the dub failed at the {job.name!r} stage: {type(e).__name__}: {e}",
            path=run.input,
            hint=f"artifacts so far are kept in {run.wd.root}; fix the cause and re-run to resume",
        ) from e
    elapsed = time.perf_counter() - t0
    run.outcomes[job.sid] = (outcome, elapsed)
    if job.own_events and outcome != "ran":
        emit(run.on_event, StageStarted(job.name, total=total, unit=unit, detail=job.detail))
    if not job.own_events or outcome != "ran":
        emit(
            run.on_event,
            StageFinished(job.name, elapsed_s=elapsed, reused=outcome != "ran", detail=job.detail),
        )
    return out


def _decide_and_do(job: _Job[_Out], run: Run) -> tuple[str, _Out]:
    wd = run.wd
    key = job.key()
    rec = wd.get(job.sid)
    run.before.setdefault(job.sid, rec)
    paths = job.artifacts()
    if (job.name in run.redo) and job.sid not in run.redone:
        run.redone.add(job.sid)
        for p in paths:
            if job.editable and wd.state(p, rec) == "edited":
                backup = wd.move_aside(p)
                run.notice(job.name, f"moved your {p.name} aside to {backup.name} (--redo)")
        wd.forget(job.sid)
        rec = None
    states = {p: wd.state(p, rec) for p in paths}
    edited = [p for p, s in states.items() if s == "edited"]
    primary_here = bool(paths) and states[paths[0]] != "missing"

    if job.editable and edited and primary_here:
        if rec is not None and rec.key != key and job.name not in run.keep:
            name = edited[0].name
            raise EditConflict(
                f"{name} has your edits, but what it was made from changed since "
                f"(the {job.upstream}); lipdub did not overwrite it",
                path=edited[0],
                hint=f"keep your edit: --keep {job.name} (SDK: keep=['{job.name}']); "
                f"or regenerate it: --redo {job.name} (your file is first moved aside "
                "to a timestamped .bak)",
            )
        if rec is None:
            run.notice(job.name, f"using your {paths[0].name} (not written by lipdub)")
        elif rec.key != key:
            run.notice(job.name, f"keeping your edited {edited[0].name} (--keep)")
        out, rewritten = job.load()
        # Judge again after loading: a merge of an edited SRT into the JSON makes the
        # JSON the user's too; a missing copy lipdub wrote back is lipdub's.
        users = [p for p in paths if wd.state(p, rec) == "edited" and p not in rewritten]
        ours = [p for p in paths if p.is_file() and p not in users]
        wd.record(job.sid, key, ours, users=users, **job.info(out))
        return "yours", out

    if job.editable and edited:  # the primary is missing: keep the stray edit safe
        for p in edited:
            backup = wd.move_aside(p)
            run.notice(job.name, f"moved your {p.name} aside to {backup.name}")
        states = {p: "missing" for p in paths}

    if rec is not None and rec.key == key and job.reusable(states):
        out, rewritten = job.load()
        if rewritten:
            wd.record(job.sid, key, [p for p in paths if p.is_file()], **{**rec.info})
        return "reused", out

    out, written = job.compute()
    wd.record(job.sid, key, written, **job.info(out))
    return "ran", out
