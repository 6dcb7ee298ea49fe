"""The :class:`FaceDetector` interface: a batch of frames in, faces per frame out."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from lipdub.component import Component
from lipdub.types import FaceBox

__all__ = ["FaceDetector", "Frame"]

#: One video frame: ``(H, W, 3)`` uint8, BGR channel order (OpenCV's).
Frame = npt.NDArray[np.uint8]


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
