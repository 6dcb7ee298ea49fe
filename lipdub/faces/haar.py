"""OpenCV Haar-cascade face detector: no extra dependencies, low accuracy.

Uses the frontal-face cascade bundled with ``opencv-python``
(``cv2.data.haarcascades + "haarcascade_frontalface_default.xml"``). It is a last resort
when neither RetinaFace nor S3FD can be used: it misses turned and tilted faces, gives
loose boxes, no landmarks and only a rough score (the last cascade stage's margin,
squashed to 0..1 by a logistic), and it finds false faces in textured backgrounds. Prefer
``"retinaface"``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np

from lipdub.errors import BackendNotInstalled, InputError
from lipdub.faces._scale import fit_within, unscale_box
from lipdub.faces.base import FaceDetector, Frame
from lipdub.types import FaceBox
from lipdub.typing import check_frame

__all__ = ["HaarFaceDetector"]

logger = logging.getLogger(__name__)

_CASCADE = "haarcascade_frontalface_default.xml"


class HaarFaceDetector(FaceDetector):
    """Viola-Jones face detector from OpenCV's bundled frontal-face cascade.

    Args:
        scale_factor: Image-pyramid step of :meth:`cv2.CascadeClassifier.detectMultiScale`.
        min_neighbors: Overlapping raw detections needed to accept a face (higher:
            fewer false faces, more misses).
        min_size: Smallest face side in pixels of the (downscaled) detection image.
        max_side: Detect on a copy whose longer side is at most this many pixels (None:
            full resolution).
        cascade_path: Another cascade XML file (default: OpenCV's frontal-face one).

    Example:
        >>> import numpy as np
        >>> HaarFaceDetector().detect([np.zeros((120, 160, 3), np.uint8)])
        [[]]
    """

    name: ClassVar[str] = "haar"

    def __init__(
        self,
        *,
        scale_factor: float = 1.1,
        min_neighbors: int = 5,
        min_size: int = 24,
        max_side: int | None = 640,
        cascade_path: str | Path | None = None,
    ) -> None:
        if scale_factor <= 1.0:
            raise InputError(f"scale_factor must be > 1, got {scale_factor}")
        if max_side is not None and max_side < 16:
            raise InputError(f"max_side must be >= 16 pixels or None, got {max_side}")
        if cascade_path is None:
            data = getattr(cv2, "data", None)
            if data is None:
                raise BackendNotInstalled(
                    "this OpenCV build has no bundled Haar cascades (cv2.data)",
                    backend="haar",
                    hint="pip install opencv-python-headless, or pass cascade_path=",
                )
            cascade_path = Path(data.haarcascades) / _CASCADE
        self.cascade_path = Path(cascade_path)
        self._cascade = cv2.CascadeClassifier(str(self.cascade_path))
        if self._cascade.empty():
            raise InputError(
                "cannot load the Haar cascade",
                path=self.cascade_path,
                hint="pass cascade_path= pointing to an OpenCV cascade XML file",
            )
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_size = min_size
        self.max_side = max_side

    def settings(self) -> dict[str, Any]:
        """The options that change detections (JSON-ready); the cascade by name and the
        sha256 of its file (moving it keeps the cache)."""
        from lipdub._hashing import file_sha256

        return {
            "cascade": self.cascade_path.name,
            "cascade_sha256": file_sha256(self.cascade_path, remember=True),
            "scale_factor": self.scale_factor,
            "min_neighbors": self.min_neighbors,
            "min_size": self.min_size,
            "max_side": self.max_side,
        }

    def _detect_one(self, frame: Frame) -> list[FaceBox]:
        small, sx, sy = fit_within(frame, self.max_side)
        gray = cv2.equalizeHist(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY))
        rects, _, weights = self._cascade.detectMultiScale3(
            gray,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(self.min_size, self.min_size),
            outputRejectLevels=True,
        )
        boxes = []
        for (x, y, w, h), weight in zip(
            np.asarray(rects).reshape(-1, 4), np.ravel(weights), strict=True
        ):
            score = float(1.0 / (1.0 + np.exp(-float(weight))))  # stage margin -> 0..1
            boxes.append(unscale_box(FaceBox(x, y, x + w, y + h, score), sx, sy))
        boxes.sort(key=lambda b: (-b.score, -b.area))
        return boxes

    def detect(self, frames: Sequence[Frame]) -> list[list[FaceBox]]:
        """Faces in each ``(H, W, 3)`` uint8 BGR frame, best first, in frame pixels."""
        return [self._detect_one(check_frame(f)) for f in frames]
