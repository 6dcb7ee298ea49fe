"""What the ``lipdub`` command draws: progress bars from lipdub's events, and lines."""

from __future__ import annotations

import sys
from typing import Any

from lipdub.events import Event, Progress, StageFinished, StageStarted, StageWarning


class ProgressRenderer:
    """Draws lipdub events as rich progress bars on stderr and keeps a stage summary."""

    def __init__(self, enabled: bool = True) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import (
            Progress as RichProgress,
        )

        self.console = Console(stderr=True)
        self.enabled = enabled and self.console.is_terminal
        self._progress = RichProgress(
            TextColumn("[bold]{task.description:<12}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[unit]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self._tasks: dict[str, Any] = {}
        self.finished: list[StageFinished] = []
        self.warnings: list[StageWarning] = []
        self._started = False

    def __enter__(self) -> ProgressRenderer:
        if self.enabled:
            self._progress.start()
            self._started = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._started:
            self._progress.stop()

    def __call__(self, event: Event) -> None:
        if isinstance(event, StageStarted):
            if self.enabled:
                self._tasks[event.stage] = self._progress.add_task(
                    event.stage, total=event.total, unit=event.unit
                )
        elif isinstance(event, Progress):
            task = self._tasks.get(event.stage)
            if task is not None:
                self._progress.update(task, completed=event.done, total=event.total)
        elif isinstance(event, StageFinished):
            self.finished.append(event)
            task = self._tasks.pop(event.stage, None)
            if task is not None:
                t = self._progress.tasks[task].total
                self._progress.update(task, completed=t if t is not None else 1, total=t or 1)
        elif isinstance(event, StageWarning):
            # lipdub logs every warning it emits as an event; logging prints it.
            self.warnings.append(event)

    def summary(self) -> str:
        """Time per stage, with reused stages marked."""
        lines = []
        for e in self.finished:
            how = "reused" if e.reused else f"{e.elapsed_s:7.1f} s"
            lines.append(f"  {e.stage:<14} {how}" + (f"  {e.detail}" if e.detail else ""))
        return "\n".join(lines)


def one_line(text: str) -> str:
    return " ".join(text.split("\n")).strip()


def echo(text: str) -> None:
    sys.stdout.write(text + "\n")
