"""Progress events: the library emits them, renderers (the CLI, a notebook) draw them.

Long calls take ``on_event: Callable[[Event], None] | None``. The default does nothing;
lipdub itself never draws progress bars. Events are frozen dataclasses so a test (or an
app) can record and inspect them::

    >>> from lipdub.events import EventRecorder, Progress
    >>> rec = EventRecorder()
    >>> rec(Progress("lipsync", 10, 100, "frames"))
    >>> rec.events[0].fraction
    0.1
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from lipdub.errors import Cancelled

__all__ = [
    "CancelSignal",
    "Event",
    "EventCallback",
    "EventRecorder",
    "Progress",
    "StageFinished",
    "StageStarted",
    "StageWarning",
    "check_cancel",
    "emit",
    "stage",
    "tqdm_renderer",
    "with_cancel",
]


@dataclass(frozen=True, slots=True)
class Event:
    """Base of all events; ``stage`` names the pipeline stage (``"transcribe"``, ...)."""

    stage: str


@dataclass(frozen=True, slots=True)
class StageStarted(Event):
    """A stage began. ``total`` is the amount of work if known (in ``unit``)."""

    total: float | None = None
    unit: str = ""
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Progress(Event):
    """``done`` of ``total`` units of a stage are finished (``total`` may be None)."""

    done: float = 0
    total: float | None = None
    unit: str = ""

    @property
    def fraction(self) -> float | None:
        """``done / total`` or None when the total is unknown."""
        if not self.total:
            return None
        return min(1.0, self.done / self.total)


@dataclass(frozen=True, slots=True)
class StageFinished(Event):
    """A stage ended after ``elapsed_s`` seconds; ``reused`` if it was served from the workdir."""

    elapsed_s: float = 0.0
    reused: bool = False
    detail: str = ""


@dataclass(frozen=True, slots=True)
class StageWarning(Event):
    """Something degraded but the run continues (e.g. frames without a face passed through)."""

    message: str = ""


EventCallback = Callable[[Event], None]


def emit(on_event: EventCallback | None, event: Event) -> None:
    """Send ``event`` to ``on_event`` when one is given."""
    if on_event is not None:
        on_event(event)


class CancelSignal(Protocol):
    """Anything with ``is_set()``: a :class:`threading.Event`, a multiprocessing one."""

    def is_set(self) -> bool: ...


def check_cancel(cancel: CancelSignal | None, stage: str = "") -> None:
    """Raise :class:`~lipdub.errors.Cancelled` when ``cancel`` is set."""
    if cancel is not None and cancel.is_set():
        where = f" during {stage}" if stage else ""
        raise Cancelled(f"the run was cancelled{where}")


def with_cancel(
    on_event: EventCallback | None, cancel: CancelSignal | None
) -> EventCallback | None:
    """An event callback that raises :class:`~lipdub.errors.Cancelled` once ``cancel`` is set.

    Components report progress through the ``on_event`` they are given, so passing
    them this callback makes every progress point a cancellation point. A component
    must let exceptions raised by ``on_event`` propagate.

    Example:
        >>> import threading
        >>> stop = threading.Event()
        >>> cb = with_cancel(None, stop)
        >>> cb(Progress("speak", 1, 3))
        >>> stop.set()
        >>> cb(Progress("speak", 2, 3))
        Traceback (most recent call last):
        ...
        lipdub.errors.Cancelled: the run was cancelled during speak
    """
    if cancel is None:
        return on_event

    def callback(event: Event) -> None:
        check_cancel(cancel, event.stage)
        emit(on_event, event)

    return callback


@contextmanager
def stage(
    on_event: EventCallback | None,
    name: str,
    *,
    total: float | None = None,
    unit: str = "",
    detail: str = "",
) -> Iterator[dict[str, Any]]:
    """Emit :class:`StageStarted` now and :class:`StageFinished` when the block ends.

    The yielded dict may be updated by the block: ``reused`` and ``detail`` keys go into
    the finishing event. No finishing event is sent when the block raises.
    """
    info: dict[str, Any] = {"reused": False, "detail": ""}
    emit(on_event, StageStarted(name, total=total, unit=unit, detail=detail))
    t0 = time.perf_counter()
    yield info
    emit(
        on_event,
        StageFinished(
            name,
            elapsed_s=time.perf_counter() - t0,
            reused=bool(info["reused"]),
            detail=str(info["detail"]),
        ),
    )


@dataclass
class EventRecorder:
    """A callback that keeps every event it receives (for tests and summaries)."""

    events: list[Event] = field(default_factory=list)

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of_type(self, kind: type[Event]) -> list[Event]:
        """Events that are instances of ``kind``."""
        return [e for e in self.events if isinstance(e, kind)]

    def stages(self, *, reused: bool | None = None) -> list[str]:
        """Names of finished stages, optionally only those (not) reused."""
        return [
            e.stage
            for e in self.events
            if isinstance(e, StageFinished) and (reused is None or e.reused == reused)
        ]


def tqdm_renderer() -> EventCallback:
    """A callback that draws one tqdm bar per stage (needs ``pip install tqdm``).

    Example:
        >>> cb = tqdm_renderer()  # doctest: +SKIP
        >>> pipeline.run("in.mp4", "es", "out.mp4", on_event=cb)  # doctest: +SKIP
    """
    from tqdm.auto import tqdm

    bars: dict[str, Any] = {}

    def render(event: Event) -> None:
        if isinstance(event, StageStarted):
            bars[event.stage] = tqdm(total=event.total, unit=event.unit or "it", desc=event.stage)
        elif isinstance(event, Progress) and event.stage in bars:
            bar = bars[event.stage]
            if event.total is not None:
                bar.total = event.total
            bar.n = event.done
            bar.refresh()
        elif isinstance(event, StageFinished) and event.stage in bars:
            bars.pop(event.stage).close()
        elif isinstance(event, StageWarning):
            tqdm.write(f"warning [{event.stage}]: {event.message}")

    return render
