"""Where the face is in each frame: a fixed box, a precomputed track, or a live tracker.

The engine asks a :class:`FaceBoxes` for the box of each decoded frame that needs one
(frames in speech, and frames a replay will show). It is the engine's pluggable face
source: one box per frame today. :attr:`FaceBoxes.lookahead_frames` is the most frames
it holds before answering, which the engine adds to its memory bound.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from lipdub.types import FaceBox
from lipdub.typing import Frame

if TYPE_CHECKING:
    from lipdub.faces.track import FaceTrack, FaceTracker

__all__ = ["FaceBoxes", "FixedBox", "TrackBoxes", "TrackerBoxes"]

Indexed = tuple[int, Frame]
Boxed = tuple[int, Frame, FaceBox | None]


class FaceBoxes(ABC):
    """Gives each frame that needs one its face box (None: no face)."""

    #: Most frames :meth:`boxes` holds before yielding them.
    lookahead_frames: int = 0

    @abstractmethod
    def boxes(self, frames: Iterator[Indexed], needs_box: Callable[[int], bool]) -> Iterator[Boxed]:
        """``(index, frame, box)`` for every frame of ``frames``, in order.

        Frames for which ``needs_box(index)`` is false get None without any work.
        """


class _PerFrame(FaceBoxes):
    def boxes(self, frames: Iterator[Indexed], needs_box: Callable[[int], bool]) -> Iterator[Boxed]:
        for idx, frame in frames:
            yield idx, frame, (self.box_at(idx) if needs_box(idx) else None)

    @abstractmethod
    def box_at(self, idx: int) -> FaceBox | None:
        """The box of source frame ``idx``."""


class FixedBox(_PerFrame):
    """The same box on every frame (the original's ``--box``)."""

    def __init__(self, box: FaceBox) -> None:
        self.box = box

    def box_at(self, idx: int) -> FaceBox | None:
        """The fixed box."""
        return self.box


class TrackBoxes(_PerFrame):
    """Boxes from a precomputed :class:`~lipdub.faces.track.FaceTrack` (None past its end)."""

    def __init__(self, track: FaceTrack) -> None:
        self.track = track

    def box_at(self, idx: int) -> FaceBox | None:
        """The track's box of frame ``idx``."""
        boxes: Sequence[FaceBox | None] = self.track.boxes
        return boxes[idx] if idx < len(boxes) else None


class _Peekable:
    def __init__(self, it: Iterator[Indexed]) -> None:
        self._it = it
        self._head: Indexed | None = None
        self._done = False

    def peek(self) -> Indexed | None:
        if self._head is None and not self._done:
            try:
                self._head = next(self._it)
            except StopIteration:
                self._done = True
        return self._head

    def pop(self) -> Indexed:
        head = self.peek()
        assert head is not None
        self._head = None
        return head


class TrackerBoxes(FaceBoxes):
    """Boxes from a live :class:`~lipdub.faces.track.FaceTracker` run on runs of frames
    that need one (frames that do not are passed through without detection)."""

    def __init__(self, tracker: FaceTracker) -> None:
        self.tracker = tracker
        self.lookahead_frames = tracker.lookahead_frames

    def boxes(self, frames: Iterator[Indexed], needs_box: Callable[[int], bool]) -> Iterator[Boxed]:
        it = _Peekable(frames)
        while True:
            head = it.peek()
            if head is None:
                return
            if not needs_box(head[0]):
                idx, frame = it.pop()
                yield idx, frame, None
                continue
            pending: deque[Indexed] = deque()
            run = self._run(it, pending, needs_box)
            for _frame, found in self.tracker.stream(run):
                idx, frame = pending.popleft()
                yield idx, frame, found

    @staticmethod
    def _run(
        it: _Peekable, pending: deque[Indexed], needs_box: Callable[[int], bool]
    ) -> Iterator[Frame]:
        """Frames of ``it`` while they need a box; each is remembered in ``pending``."""
        while True:
            nxt = it.peek()
            if nxt is None or not needs_box(nxt[0]):
                return
            pending.append(it.pop())
            yield nxt[1]
