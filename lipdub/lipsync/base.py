"""The :class:`LipSyncer` interface: face crops + audio windows in, new mouths out."""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from lipdub.component import Component

__all__ = ["LipSyncer"]


class LipSyncer(Component):
    """Redraws the lower face of each crop so its mouth matches an audio window.

    This is the narrow, batch-shaped unit of work; whole videos are handled by
    :func:`lipdub.lipsync.lipsync`, which crops, batches, calls :meth:`sync` and
    blends the results back.

    Class attributes describe the inputs the model wants: square crops of
    ``face_size`` pixels and mel windows of ``mel_bands`` x ``mel_window`` columns
    (80 columns per second of 16 kHz audio).

    Example:
        >>> import numpy as np
        >>> from lipdub.testing import PassThroughLipSyncer
        >>> s = PassThroughLipSyncer()
        >>> faces = np.zeros((2, 96, 96, 3), np.uint8)
        >>> s.sync(faces, np.zeros((2, 80, 16), np.float32)).shape
        (2, 96, 96, 3)
    """

    face_size: ClassVar[int] = 96
    mel_bands: ClassVar[int] = 80
    mel_window: ClassVar[int] = 16

    @abstractmethod
    def sync(
        self, faces: npt.NDArray[np.uint8], mels: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.uint8]:
        """Generate mouths.

        Args:
            faces: ``(B, S, S, 3)`` uint8 BGR face crops, ``S = face_size``.
            mels: ``(B, mel_bands, mel_window)`` float32 mel windows, one per crop.

        Returns:
            ``(B, S, S, 3)`` uint8 BGR crops with the mouth redrawn.
        """

    @property
    def device(self) -> str:
        """Where the model runs (``"cpu"``, ``"cuda:0"``)."""
        return "cpu"

    def to(self, device: str) -> LipSyncer:
        """Move to a torch device where the backend uses one; returns self."""
        return self

    def suggested_batch_size(self) -> int:
        """A good batch size for :meth:`sync` on the current device."""
        return 16
