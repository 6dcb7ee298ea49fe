"""What the ``lipdub`` command draws: progress bars from lipdub's events, and lines.

Every text the command prints passes one boundary, :func:`lipdub.errors.printable`:
:func:`echo` (stdout), :func:`one_line` (error lines), :func:`table_cell` (rich
tables) and :class:`PrintableFormatter` (the log lines on stderr, warnings included).
A speaker label, a transcript line or a file name holding ESC or BEL thus reaches the
terminal with its escape sequences dropped and its other control characters shown as
escapes (``\\x07``).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from lipdub.errors import printable
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
    r"""``text`` as one terminal-safe line (line breaks become spaces).

    Example:
        >>> one_line("bad\nfile \x1b[2Jname\x07.mp4")
        'bad file name\\x07.mp4'
    """
    return printable(" ".join(str(text).split("\n")).strip(), newlines=False)


def echo(text: str) -> None:
    """Print ``text`` and a line break on stdout, terminal-safe (line breaks kept)."""
    sys.stdout.write(printable(text) + "\n")


def table_cell(text: str) -> str:
    """``text`` for a rich table cell: one terminal-safe line, rich markup escaped."""
    from rich.markup import escape

    return escape(one_line(text))


class PrintableFormatter(logging.Formatter):
    """A log formatter whose lines are terminal-safe (see :func:`lipdub.errors.printable`)."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record))


def log_handler(fmt: str = "%(levelname)s %(name)s: %(message)s") -> logging.Handler:
    """The stderr handler of the command's log lines, through :class:`PrintableFormatter`."""
    handler = logging.StreamHandler()
    handler.setFormatter(PrintableFormatter(fmt))
    return handler
