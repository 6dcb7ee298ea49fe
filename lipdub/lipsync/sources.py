"""Where frames come from: a video file, a still image, a sequence or an iterable of frames.

A :class:`FrameSource` knows its rate and size before the first frame, iterates its
frames once (in the decode thread) and, where it can, gives random access for
replays (:meth:`FrameSource.at`). :func:`open_source` picks the right one.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import cast

import numpy as np
import numpy.typing as npt

from lipdub.errors import InputError, MediaError
from lipdub.typing import Frame, PathLike, check_frame

__all__ = ["DEFAULT_IMAGE_FPS", "FaceInput", "FrameSource", "open_source"]

FaceInput = PathLike | npt.NDArray[np.uint8] | Iterable[npt.NDArray[np.uint8]]
DEFAULT_IMAGE_FPS = Fraction(25)


class FrameSource:
    """Where frames come from. ``frames()`` is iterated once, in the decode thread."""

    fps: Fraction
    width: int
    height: int
    count: int | None  # frame count if known (an estimate for videos)
    exact: bool = False  # whether ``count`` is exact
    is_image: bool = False
    label: str = "frames"

    def frames(self) -> Iterator[Frame]:
        raise NotImplementedError

    def at(self, index: int) -> Frame | None:
        """Random access for replays when the source allows it, else None."""
        return None


class _VideoSource(FrameSource):
    def __init__(self, path: Path, fps: Fraction | None) -> None:
        from lipdub.media import VideoReader

        self.path = path
        self._reader = VideoReader(path, fps=fps)
        info = self._reader.info
        self.fps = info.fps
        self.width, self.height = info.width, info.height
        self.count = info.frame_count
        self.label = str(path)

    def frames(self) -> Iterator[Frame]:
        with self._reader as reader:
            yield from reader


class _ImageSource(FrameSource):
    is_image = True
    exact = True

    def __init__(self, frame: Frame, fps: Fraction, label: str) -> None:
        self.frame = check_frame(frame, label)
        self.fps = fps
        self.height, self.width = self.frame.shape[:2]
        self.count = 1
        self.label = label

    def frames(self) -> Iterator[Frame]:
        yield self.frame

    def at(self, index: int) -> Frame | None:
        return self.frame


class _SequenceSource(FrameSource):
    exact = True

    def __init__(self, frames: Sequence[Frame] | npt.NDArray[np.uint8], fps: Fraction) -> None:
        if len(frames) == 0:
            raise InputError("face: the frame sequence is empty", hint="pass at least one frame")
        self.seq: Sequence[Frame] | npt.NDArray[np.uint8] = frames
        self.fps = fps
        first = check_frame(frames[0], "face[0]")
        self.height, self.width = first.shape[:2]
        self.count = len(frames)

    def frames(self) -> Iterator[Frame]:
        for i in range(len(self.seq)):
            yield self.seq[i]

    def at(self, index: int) -> Frame | None:
        return self.seq[index]


class _IterableSource(FrameSource):
    def __init__(self, frames: Iterable[Frame], fps: Fraction) -> None:
        self._it = iter(frames)
        try:
            first = next(self._it)
        except StopIteration:
            raise InputError(
                "face: the frame iterable is empty", hint="pass at least one frame"
            ) from None
        self._first = check_frame(first, "face[0]")
        self.fps = fps
        self.height, self.width = self._first.shape[:2]
        self.count = None

    def frames(self) -> Iterator[Frame]:
        yield self._first
        yield from self._it


def open_source(face: FaceInput, fps: float | Fraction | None) -> FrameSource:
    want = Fraction(fps).limit_denominator(1_000_000) if fps is not None else None
    if want is not None and want <= 0:
        raise InputError(f"fps must be > 0, got {fps}")
    if isinstance(face, (str, os.PathLike)):
        from lipdub.media import is_image, read_image

        path = Path(face)
        if not path.exists():
            raise MediaError("face file not found", path=path, hint="check the path")
        if is_image(path):
            return _ImageSource(read_image(path), want or DEFAULT_IMAGE_FPS, str(path))
        return _VideoSource(path, want)
    if isinstance(face, np.ndarray):
        if face.ndim == 3:
            return _ImageSource(face, want or DEFAULT_IMAGE_FPS, "face image")
        if face.ndim == 4:
            if want is None:
                raise InputError("fps is required when face is an array of frames")
            return _SequenceSource(face, want)
        raise InputError(f"face array must be (H, W, 3) or (N, H, W, 3), got {face.shape}")
    if want is None:
        raise InputError(
            "fps is required when face is an iterable of frames",
            hint="pass fps=25 (or the frames' real rate)",
        )
    if isinstance(face, Sequence):
        return _SequenceSource(cast("Sequence[Frame]", face), want)
    return _IterableSource(face, want)
