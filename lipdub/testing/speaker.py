"""Stand-ins for the active speaker: a two-face clip, its detector, a light scorer.

- :func:`make_two_face_video`: two cartoon faces side by side; in each given span one
  of them moves its mouth with the sound (:func:`~lipdub.testing.media.speech_tones`),
  the other keeps it still.
- :class:`FixedFacesDetector`: the faces at fixed places (fractions of the frame), as
  a detector would find the two faces of that clip.
- :class:`MouthMotionScorer`: a :class:`~lipdub.eval.base.SpeakingScorer` standing in
  for SyncNet: how strongly the crop's brightness follows the audio's loudness.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from lipdub.eval.base import SpeakingScorer
from lipdub.faces.base import FaceDetector, Frame
from lipdub.testing.media import BACKGROUND, _mouth_open, draw_face, speech_tones
from lipdub.types import FaceBox
from lipdub.typing import PathLike

__all__ = ["TWO_FACES", "FixedFacesDetector", "MouthMotionScorer", "make_two_face_video"]

#: The faces of :func:`make_two_face_video`, ``(x1, y1, x2, y2)`` as fractions of the
#: frame: face 0 on the left, face 1 on the right.
TWO_FACES: tuple[tuple[float, float, float, float], ...] = (
    (0.13125, 0.1875, 0.36875, 0.8125),
    (0.63125, 0.1875, 0.86875, 0.8125),
)


def make_two_face_video(
    path: PathLike,
    *,
    duration_s: float = 3.0,
    speaking: Sequence[tuple[float, float, int]] = ((0.3, 1.3, 0), (1.7, 2.7, 1)),
    size: tuple[int, int] = (320, 160),
    fps: int = 25,
    crf: int = 18,
) -> Path:
    """Write the two-face clip (H.264 + AAC tone bursts); returns its path.

    Args:
        path: Output file.
        duration_s: Length.
        speaking: ``(start_s, end_s, face)``: face 0 (left) or 1 (right) moves its
            mouth with the sound in that span; outside every span both mouths rest.
        size: ``(width, height)``; the faces are :data:`TWO_FACES` of it.
        fps: Frame rate.
        crf: x264 quality.
    """
    from lipdub.media import write_video

    w, h = size
    n = round(duration_s * fps)
    frames = []
    for i in range(n):
        t = i / fps
        frame = np.empty((h, w, 3), np.uint8)
        frame[:] = BACKGROUND
        for face, (x1, y1, x2, y2) in enumerate(TWO_FACES):
            talking = any(a <= t < b and f == face for a, b, f in speaking)
            centre = ((x1 + x2) / 2 * w, (y1 + y2) / 2 * h)
            draw_face(frame, centre, (y2 - y1) * h, _mouth_open(t) if talking else 0.15)
        frames.append(frame)
    return write_video(
        path, frames, fps=Fraction(fps), audio=speech_tones(duration_s), crf=crf, preset="ultrafast"
    )


class FixedFacesDetector(FaceDetector):
    """Finds the same faces in every frame: ``boxes`` as fractions of the frame size.

    Args:
        boxes: ``(x1, y1, x2, y2)`` fractions per face (default :data:`TWO_FACES`).
        min_brightness: Mean pixel value below which a frame has no face (0: never).
    """

    name: ClassVar[str] = "fixed_faces"

    def __init__(
        self, boxes: Sequence[Sequence[float]] = TWO_FACES, min_brightness: float = 0.0
    ) -> None:
        self.boxes = tuple(tuple(float(v) for v in b) for b in boxes)
        self.min_brightness = min_brightness

    def settings(self) -> dict[str, Any]:
        """The boxes and the brightness below which a frame has no face."""
        return {"boxes": [list(b) for b in self.boxes], "min_brightness": self.min_brightness}

    def detect(self, frames: Sequence[Frame]) -> list[list[FaceBox]]:
        """Every box, in each frame's pixels."""
        out: list[list[FaceBox]] = []
        for f in frames:
            h, w = f.shape[:2]
            if self.min_brightness and float(f.mean()) < self.min_brightness:
                out.append([])
                continue
            out.append(
                [FaceBox(x1 * w, y1 * h, x2 * w, y2 * h, 1.0) for x1, y1, x2, y2 in self.boxes]
            )
        return out


class MouthMotionScorer(SpeakingScorer):
    """Scores a face by how its lower half darkens as the audio gets loud.

    The correlation (-1..1) between the audio's loudness in each 25 fps frame and the
    darkness of the lower half of the face crop (an open mouth is dark); 0 for a
    crop that does not change. A stand-in for SyncNet on the drawn faces of
    :func:`make_two_face_video`.
    """

    name: ClassVar[str] = "mouth_motion"

    def settings(self) -> dict[str, Any]:
        """No options."""
        return {}

    def speaking_score(
        self, crops: npt.NDArray[np.uint8], audio: npt.NDArray[np.int16]
    ) -> float | None:
        """Loudness/darkness correlation over the span (None: under 6 frames)."""
        n = min(len(crops), len(audio) // 640)
        if n < 6:
            return None
        dark = 255.0 - crops[:n, crops.shape[1] // 2 :].astype(np.float64).mean(axis=(1, 2, 3))
        frames = audio[: n * 640].astype(np.float64).reshape(n, 640)
        loud = np.sqrt((frames**2).mean(axis=1))
        if dark.std() < 1e-6 or loud.std() < 1e-9:
            return 0.0
        return float(np.corrcoef(dark, loud)[0, 1])
