"""The :class:`FaceDetector` interface: a batch of frames in, faces per frame out."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence

from lipdub.component import Component
from lipdub.errors import NoFaceError
from lipdub.types import FaceBox
from lipdub.typing import Frame, PathLike

# Frame is defined in lipdub.typing and re-exported here, where it has always lived.
__all__ = ["FaceDetector", "Frame", "require_face_found"]


class FaceDetector(Component):
    """Finds faces in frames.

    The batch is the natural unit, so :meth:`detect` takes a list of frames and returns,
    for each frame, its faces sorted by score (best first); an empty list means no face.

    Example:
        >>> import numpy as np
        >>> from lipdub.testing import FakeFaceDetector
        >>> det = FakeFaceDetector(box=(10, 10, 50, 60))
        >>> det.detect([np.zeros((90, 120, 3), np.uint8)])[0][0].as_tuple()
        (10.0, 10.0, 50.0, 60.0)
    """

    @abstractmethod
    def detect(self, frames: Sequence[Frame]) -> list[list[FaceBox]]:
        """Detect faces in each of ``frames`` (``(H, W, 3)`` uint8 BGR).

        Returns:
            One list per frame, faces best first, boxes in that frame's pixels.
        """

    def to(self, device: str) -> FaceDetector:
        """Move to a torch device where the backend uses one; returns self."""
        return self


def require_face_found(
    frames_checked: int, frames_with_face: int, *, source: PathLike | None = None
) -> None:
    """Raise :class:`~lipdub.errors.NoFaceError` when none of the checked frames had a face.

    The one no-face check: the face tracker (:func:`lipdub.faces.track.require_face`)
    and the lip-sync engine (``lipsync(require_face=True)``) both call it.

    Args:
        frames_checked: Frames looked at for a face.
        frames_with_face: How many of them had one.
        source: The video or image, named in the error.

    Raises:
        NoFaceError: ``frames_with_face`` is 0, naming how many frames were checked.

    Example:
        >>> require_face_found(75, 3)
        >>> require_face_found(75, 0, source="talk.mp4")
        Traceback (most recent call last):
        ...
        lipdub.errors.NoFaceError: talk.mp4: no face found in any of the 75 frames checked (use footage where the face is visible and frontal, try another detector (--detector s3fd), point FaceTracker(region=...) at the face, or pass --allow-no-face to keep the video as is)
    """  # noqa: E501
    if frames_with_face == 0:
        raise NoFaceError(
            f"no face found in any of the {frames_checked} frames checked",
            path=source,
            hint="use footage where the face is visible and frontal, try another detector "
            "(--detector s3fd), point FaceTracker(region=...) at the face, or pass "
            "--allow-no-face to keep the video as is",
        )
