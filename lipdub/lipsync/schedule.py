"""Which output frame shows which source frame, which frames are synced, and the replay spool.

When the audio is longer than the video the frames are replayed back and forth
(``"pingpong"``: 0..n-1, n-2..1, 0.. — no visible jump) or from the start (``"loop"``,
the original's behaviour). Replays must not hold the whole video in memory: from the
probed frame count, :func:`replay_range` works out which source frames a replay will
show, and :class:`Spool` keeps exactly those (plus a small margin) in an anonymous
temporary file on disk during the single decode pass, with their face boxes; replays
read them back one at a time. :class:`SpanIndex` says which output frames lie in the
speech spans.
"""

from __future__ import annotations

import bisect
import logging
import tempfile
from collections.abc import Sequence
from fractions import Fraction
from typing import IO, Literal

import numpy as np

from lipdub.errors import InputError
from lipdub.lipsync.sources import FrameSource
from lipdub.types import FaceBox
from lipdub.typing import Frame

__all__ = ["AudioLonger", "SpanIndex", "Spool", "replay_index", "replay_range"]

logger = logging.getLogger(__name__)

AudioLonger = Literal["pingpong", "loop"]


def replay_index(i: int, n: int, mode: AudioLonger = "pingpong") -> int:
    """The source frame shown at output frame ``i`` when a clip of ``n`` frames repeats.

    ``"pingpong"`` plays 0..n-1, n-2..1, 0..n-1, ... (no jump back to frame 0);
    ``"loop"`` plays 0..n-1, 0..n-1, ...

    Example:
        >>> [replay_index(i, 4) for i in range(10)]
        [0, 1, 2, 3, 2, 1, 0, 1, 2, 3]
        >>> [replay_index(i, 3, "loop") for i in range(7)]
        [0, 1, 2, 0, 1, 2, 0]
    """
    if n <= 1:
        return 0
    if mode == "loop":
        return i % n
    period = 2 * (n - 1)
    k = i % period
    return k if k < n else period - k


def replay_range(
    n_est: int | None, n_audio: int, mode: AudioLonger, exact: bool
) -> tuple[int, int] | None:
    """Source indices ``[lo, hi)`` a replay will show (with a margin), or None for none."""
    if n_est is None:
        return (0, n_audio)  # unknown length: any frame may be replayed
    margin = 0 if exact else 2 + n_est // 50
    if n_audio <= n_est - margin:
        return None
    n = max(1, n_est - margin)
    shown = {replay_index(i, n, mode) for i in range(n, min(n_audio, n + 2 * n))}
    if not shown:
        shown = {n - 1}
    lo, hi = min(shown), max(shown) + 1
    return (max(0, lo - margin), min(n_audio, max(hi, n_est) + margin))


class SpanIndex:
    """Which output frames overlap the speech spans (all of them when spans is None)."""

    def __init__(self, spans: Sequence[tuple[float, float]] | None, fps: Fraction) -> None:
        self.all = spans is None
        self.fps = float(fps)
        merged: list[tuple[float, float]] = []
        for a, b in sorted((float(a), float(b)) for a, b in spans or ()):
            if b < a:
                raise InputError(f"speech_spans: end {b} before start {a}")
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        self.starts = [a for a, _ in merged]
        self.ends = [b for _, b in merged]

    def __call__(self, i: int) -> bool:
        if self.all:
            return True
        t0, t1 = i / self.fps, (i + 1) / self.fps
        k = bisect.bisect_left(self.ends, t0)  # first span ending at/after t0
        while k < len(self.starts) and self.starts[k] < t1:
            if self.ends[k] > t0:
                return True
            k += 1
        return False


class Spool:
    """Source frames (and their boxes) kept for replays: on disk, or in memory for images."""

    def __init__(self, source: FrameSource, lo_hi: tuple[int, int] | None) -> None:
        self.source = source
        self.lo_hi = lo_hi
        self.boxes: dict[int, FaceBox | None] = {}
        self._offsets: dict[int, tuple[int, tuple[int, ...]]] = {}
        self._file: IO[bytes] | None = None
        self._size = 0
        self.frames_spooled = 0

    def wants(self, idx: int) -> bool:
        return self.lo_hi is not None and self.lo_hi[0] <= idx < self.lo_hi[1]

    def add(self, idx: int, frame: Frame, box: FaceBox | None) -> None:
        self.boxes[idx] = box
        if self.source.at(idx) is not None:
            return
        if self._file is None:
            # closed in close(); anonymous, so the OS frees it even after a crash
            self._file = tempfile.TemporaryFile(prefix="lipdub-spool-")  # noqa: SIM115
        data = np.ascontiguousarray(frame)
        self._file.seek(self._size)
        self._file.write(data.tobytes())
        self._offsets[idx] = (self._size, data.shape)
        self._size += data.nbytes
        self.frames_spooled += 1

    def get(self, idx: int) -> tuple[Frame, FaceBox | None]:
        if idx not in self.boxes:
            near = min(self.boxes, key=lambda k: abs(k - idx))  # estimate was off
            logger.debug("replay wanted source frame %d, using spooled frame %d", idx, near)
            idx = near
        frame = self.source.at(idx)
        if frame is None:
            assert self._file is not None
            offset, shape = self._offsets[idx]
            self._file.seek(offset)
            data = bytearray(self._file.read(int(np.prod(shape))))
            frame = np.frombuffer(data, np.uint8).reshape(shape)
        return frame, self.boxes[idx]

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
