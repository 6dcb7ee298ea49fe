"""What a batch did: one record per (video, language) task, and the batch's totals."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lipdub._io import atomic_write_text

__all__ = ["BatchEvent", "BatchEventCallback", "BatchReport", "TaskRecord"]


@dataclass
class TaskRecord:
    """One (video, language) task.

    Attributes:
        input: The video.
        language: The target language.
        ok: Whether it finished.
        output: The output video (when ok).
        attempts: How many times it was started.
        errors: The reason of every failed attempt, oldest first.
        ran: Stages computed by the successful attempt.
        reused: Stages reused from the work directory.
        timings: Stage -> seconds in the successful attempt.
        wall_s: Seconds of the successful attempt, start to end in the worker.
        worker: ``host:pid`` of the worker that finished it.
    """

    input: str
    language: str
    ok: bool = False
    output: str | None = None
    attempts: int = 0
    errors: list[str] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0
    worker: str = ""


@dataclass
class BatchReport:
    """Every task of a batch, the time spent per stage, and the cloud API concurrency.

    Example:
        >>> r = BatchReport([TaskRecord("a.mp4", "es", ok=True, ran=["translate"],
        ...                             timings={"translate": 0.5})], wall_s=1.0)
        >>> r.succeeded, r.failed, r.stage_seconds()
        (1, 0, {'translate': 0.5})
    """

    tasks: list[TaskRecord]
    wall_s: float = 0.0
    workers: int = 0
    #: Quota name -> the most tasks that were inside its stages at once.
    api_peak: dict[str, int] = field(default_factory=dict)

    @property
    def succeeded(self) -> int:
        """Tasks that finished."""
        return sum(t.ok for t in self.tasks)

    @property
    def failed(self) -> int:
        """Tasks that failed every attempt."""
        return sum(not t.ok for t in self.tasks)

    @property
    def ran_stages(self) -> int:
        """Stage instances computed (0 when a re-run found everything done)."""
        return sum(len(t.ran) for t in self.tasks)

    def stage_seconds(self) -> dict[str, float]:
        """Stage -> seconds computing it, summed over the tasks (reused stages excluded)."""
        out: dict[str, float] = {}
        for t in self.tasks:
            for stage, s in t.timings.items():
                if stage in t.ran:
                    out[stage] = round(out.get(stage, 0.0) + s, 3)
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "succeeded": self.succeeded,
            "failed": self.failed,
            "wall_s": round(self.wall_s, 3),
            "workers": self.workers,
            "api_peak": self.api_peak,
            "stage_seconds": self.stage_seconds(),
            "tasks": [asdict(t) for t in self.tasks],
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the report as JSON (atomically)."""
        return atomic_write_text(path, json.dumps(self.to_dict(), indent=2, ensure_ascii=False))

    def table(self) -> str:
        """A plain-text table: one row per task, then stage totals.

        The ``ran`` column says ``all`` when no stage was reused, ``-`` when none ran.
        """
        rows = [("input", "lang", "result", "tries", "ran", "seconds")]
        for t in self.tasks:
            result = "ok" if t.ok else "FAILED: " + (t.errors[-1] if t.errors else "?")
            rows.append(
                (
                    Path(t.input).name,
                    t.language,
                    result if len(result) <= 60 else result[:57] + "...",
                    str(t.attempts),
                    ("all" if t.ran and not t.reused else ",".join(t.ran)) or "-",
                    f"{t.wall_s:.1f}",
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in self.stage_seconds().items())
        lines.append(
            f"{self.succeeded} ok, {self.failed} failed in {self.wall_s:.1f} s on "
            f"{self.workers} worker(s); stage time: {stages or 'none (all reused)'}"
        )
        return "\n".join(line.rstrip() for line in lines)


@dataclass(frozen=True)
class BatchEvent:
    """Progress of a batch, sent to ``on_event`` as tasks start, fail and finish.

    Attributes:
        kind: ``"started"``, ``"finished"``, ``"retry"`` or ``"failed"``.
        input: The video of the task.
        language: Its target language.
        done: Tasks finished so far (ok or failed for good).
        total: Tasks in the batch.
        message: The reason of a failure or retry.
        stage_rate: Stage -> stage instances computed per second of stage time so far.
    """

    kind: str
    input: str
    language: str
    done: int
    total: int
    message: str = ""
    stage_rate: dict[str, float] = field(default_factory=dict)


BatchEventCallback = Callable[[BatchEvent], None]
