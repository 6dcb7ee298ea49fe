"""The :class:`SpeakingScorer` interface: does this face say these sounds?

The active-speaker stage of a dub (:mod:`lipdub.dub.stages.faces`) asks it, for each
speech span of the source and each face seen in it, how well the face's mouth matches
the span's audio, and lip-syncs the face that scores highest.
:class:`~lipdub.eval.SyncNetScorer` is the real one (LSE-C of ``syncnet_python``'s
SyncNet); :class:`lipdub.testing.speaker.MouthMotionScorer` is a light stand-in.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from lipdub.component import Component

__all__ = ["SpeakingScorer"]


class SpeakingScorer(Component):
    """Scores how likely a face is to be saying a stretch of audio (higher: more likely)."""

    name: ClassVar[str] = "custom"

    @abstractmethod
    def speaking_score(
        self, crops: npt.NDArray[np.uint8], audio: npt.NDArray[np.int16]
    ) -> float | None:
        """The score of one face over one span.

        Args:
            crops: ``(N, 224, 224, 3)`` BGR uint8 crops of the face at 25 fps, in the
                reference geometry of :func:`lipdub.eval.crops.crop_face`.
            audio: The span's audio, 16 kHz mono int16 (``N * 640`` samples).

        Returns:
            A finite float (only compared between the faces of one span), or None when
            the span is too short to judge.
        """
