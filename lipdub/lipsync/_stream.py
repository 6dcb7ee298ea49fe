"""A small threaded stage pipeline: bounded queues, back-pressure, first error wins.

The lip-sync engine runs decode → track → crop → generate → blend in threads that
hand work to each other through :class:`BoundedQueue`. The heavy calls in each stage
(PyAV, OpenCV, torch) release the GIL, so the stages overlap.

Guarantees:

* **Back-pressure, not buffering.** A queue never holds more than its ``maxsize``
  items; a producer that is ahead waits. ``peak`` records the most items a queue ever
  held, so tests can check the bound.
* **First error wins.** A stage that raises records ``(stage name, exception)`` once
  and sets the stop event; every blocking ``put``/``get`` polls that event every
  ``poll_s`` seconds and unwinds with :class:`Stopped`, so the other stages end
  promptly and nothing waits forever.
* **Busy time.** Each stage's wall time minus the time it spent blocked on queues is
  its busy time (seconds), for profiling.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

__all__ = ["END", "BoundedQueue", "Stage", "StagePipeline", "Stopped"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Stopped(Exception):
    """Raised inside a stage when the pipeline is stopping (another stage failed)."""


class _End:
    def __repr__(self) -> str:
        return "END"


#: The sentinel a producer puts after its last item.
END = _End()


@dataclass
class Stage:
    """Timing of one stage (seconds)."""

    name: str
    wall_s: float = 0.0
    wait_s: float = 0.0
    items: int = 0
    _t0: float = field(default=0.0, repr=False)

    @property
    def busy_s(self) -> float:
        """Seconds spent working (wall time minus time blocked on queues)."""
        return max(0.0, self.wall_s - self.wait_s)


class StagePipeline:
    """Threads connected by bounded queues, with one shared stop event and error slot.

    Example:
        >>> p = StagePipeline()
        >>> q: BoundedQueue[int] = BoundedQueue(p, "numbers", 2)
        >>> def produce() -> None:
        ...     for i in range(5):
        ...         q.put(i)
        ...     q.put_end()
        >>> p.add_stage("produce", produce)
        >>> p.start()
        >>> with p.stage_clock("consume"):
        ...     print(list(q.drain()))
        [0, 1, 2, 3, 4]
        >>> p.close(); p.raise_if_failed(); q.peak <= 2
        True
    """

    def __init__(self, *, poll_s: float = 0.05) -> None:
        self.poll_s = poll_s
        self.stop = threading.Event()
        self.error: tuple[str, BaseException] | None = None
        self.stages: dict[str, Stage] = {}
        self.queues: dict[str, BoundedQueue[Any]] = {}
        self._lock = threading.Lock()
        self._local = threading.local()
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ building
    def add_stage(self, name: str, target: Callable[[], None]) -> None:
        """Run ``target()`` in a daemon thread named ``lipdub-<name>`` once started."""

        def run() -> None:
            with self.stage_clock(name):
                try:
                    target()
                except Stopped:
                    pass
                except BaseException as e:
                    self.fail(name, e)

        self._threads.append(threading.Thread(target=run, name=f"lipdub-{name}", daemon=True))

    def start(self) -> None:
        """Start every stage thread."""
        for t in self._threads:
            t.start()

    # ------------------------------------------------------------------ control
    def fail(self, stage: str, error: BaseException) -> None:
        """Record ``error`` from ``stage`` (only the first one is kept) and stop all stages."""
        with self._lock:
            if self.error is None:
                self.error = (stage, error)
                logger.debug("stage %s failed: %r", stage, error)
        self.stop.set()

    def check(self) -> None:
        """Raise :class:`Stopped` if the pipeline is stopping."""
        if self.stop.is_set():
            raise Stopped

    def close(self, timeout_s: float = 1.0) -> None:
        """Stop the stages and wait up to ``timeout_s`` in total for their threads.

        A thread still busy inside a long call (a model forward) is left to finish on
        its own: it is a daemon and its results are discarded.
        """
        self.stop.set()
        deadline = time.monotonic() + timeout_s
        for t in self._threads:
            if t.is_alive() and t is not threading.current_thread():
                t.join(max(0.0, deadline - time.monotonic()))
                if t.is_alive():
                    logger.debug("thread %s still busy after close", t.name)

    def raise_if_failed(self) -> None:
        """Re-raise the first stage error, if any (as is; the caller wraps it)."""
        if self.error is not None:
            raise self.error[1]

    # ------------------------------------------------------------------ timing
    def stage_clock(self, name: str) -> _StageClock:
        """Context manager timing the current thread as stage ``name``."""
        return _StageClock(self, name)

    def _current(self) -> Stage | None:
        return getattr(self._local, "stage", None)

    def busy_s(self) -> dict[str, float]:
        """Busy seconds per stage."""
        return {name: s.busy_s for name, s in self.stages.items()}


class _StageClock:
    def __init__(self, pipeline: StagePipeline, name: str) -> None:
        self.pipeline = pipeline
        self.name = name

    def __enter__(self) -> Stage:
        stage = self.pipeline.stages.setdefault(self.name, Stage(self.name))
        stage._t0 = time.perf_counter()
        self.pipeline._local.stage = stage
        return stage

    def __exit__(self, *exc: object) -> None:
        stage = self.pipeline.stages[self.name]
        stage.wall_s += time.perf_counter() - stage._t0
        self.pipeline._local.stage = None


class BoundedQueue(Generic[T]):
    """A FIFO of at most ``maxsize`` items whose blocking calls honour the stop event."""

    def __init__(self, pipeline: StagePipeline, name: str, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"queue {name!r}: maxsize must be >= 1, got {maxsize}")
        self.pipeline = pipeline
        self.name = name
        self.maxsize = maxsize
        self.peak = 0
        self._q: queue.Queue[T | _End] = queue.Queue(maxsize)
        pipeline.queues[name] = self

    def _wait(self, t0: float) -> None:
        stage = self.pipeline._current()
        if stage is not None:
            stage.wait_s += time.perf_counter() - t0

    def put(self, item: T | _End) -> None:
        """Append ``item``, waiting while the queue is full.

        Raises:
            Stopped: The pipeline is stopping.
        """
        t0 = time.perf_counter()
        try:
            while True:
                self.pipeline.check()
                try:
                    self._q.put(item, timeout=self.pipeline.poll_s)
                    break
                except queue.Full:
                    continue
        finally:
            self._wait(t0)
        size = self._q.qsize()
        if size > self.peak:
            self.peak = size
        stage = self.pipeline._current()
        if stage is not None and item is not END:
            stage.items += 1

    def put_end(self) -> None:
        """Tell the consumer there is nothing more."""
        self.put(END)

    def get(self) -> T | _End:
        """The next item (or :data:`END`), waiting while the queue is empty.

        Raises:
            Stopped: The pipeline is stopping.
        """
        t0 = time.perf_counter()
        try:
            while True:
                self.pipeline.check()
                try:
                    return self._q.get(timeout=self.pipeline.poll_s)
                except queue.Empty:
                    continue
        finally:
            self._wait(t0)

    def drain(self) -> Iterator[T]:
        """Yield items until :data:`END`."""
        while True:
            item = self.get()
            if isinstance(item, _End):
                return
            yield item
