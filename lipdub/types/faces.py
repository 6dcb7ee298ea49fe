"""A face found in a frame: :class:`FaceBox`."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from lipdub.errors import InputError

__all__ = ["FaceBox"]


@dataclass(frozen=True, slots=True)
class FaceBox:
    """A face in a frame: corners in pixels (x right, y down), a score, optional landmarks.

    ``landmarks`` are ``((x, y), ...)`` points in frame pixels; detectors that give the
    5-point set use the order left eye, right eye, nose, left mouth corner, right mouth
    corner.

    Example:
        >>> b = FaceBox(10, 20, 110, 140, score=0.9)
        >>> b.width, b.height, b.center
        (100.0, 120.0, (60.0, 80.0))
        >>> b.iou(b)
        1.0
    """

    x1: float
    y1: float
    x2: float
    y2: float
    score: float = 1.0
    landmarks: tuple[tuple[float, float], ...] | None = None

    def __post_init__(self) -> None:
        for name in ("x1", "y1", "x2", "y2", "score"):
            raw = getattr(self, name)
            try:
                value = float(raw)
            except (TypeError, ValueError):
                raise InputError(
                    f"FaceBox.{name} must be a number, got {type(raw).__name__}"
                ) from None
            if not math.isfinite(value):
                raise InputError(f"FaceBox.{name} must be finite, got {value}")
            object.__setattr__(self, name, value)
        if self.x2 <= self.x1 or self.y2 <= self.y1:
            raise InputError(
                "FaceBox needs x2 > x1 and y2 > y1, got "
                f"({self.x1}, {self.y1}, {self.x2}, {self.y2})"
            )
        if self.landmarks is not None:
            pts = tuple((float(x), float(y)) for x, y in self.landmarks)
            object.__setattr__(self, "landmarks", pts)

    @property
    def width(self) -> float:
        """``x2 - x1`` in pixels."""
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        """``y2 - y1`` in pixels."""
        return self.y2 - self.y1

    @property
    def area(self) -> float:
        """Width times height in square pixels."""
        return self.width * self.height

    @property
    def center(self) -> tuple[float, float]:
        """Centre point ``(x, y)``."""
        return ((self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2)

    def as_tuple(self) -> tuple[float, float, float, float]:
        """``(x1, y1, x2, y2)``."""
        return (self.x1, self.y1, self.x2, self.y2)

    def iou(self, other: FaceBox) -> float:
        """Intersection over union with another box (0 to 1)."""
        ix = max(0.0, min(self.x2, other.x2) - max(self.x1, other.x1))
        iy = max(0.0, min(self.y2, other.y2) - max(self.y1, other.y1))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def scaled(self, factor: float) -> FaceBox:
        """Coordinates (and landmarks) multiplied by ``factor`` (e.g. to undo a downscale)."""
        lm = None
        if self.landmarks is not None:
            lm = tuple((x * factor, y * factor) for x, y in self.landmarks)
        return FaceBox(
            self.x1 * factor, self.y1 * factor, self.x2 * factor, self.y2 * factor, self.score, lm
        )

    def padded(
        self, top: float = 0, bottom: float = 0, left: float = 0, right: float = 0
    ) -> FaceBox:
        """Grown by the given pixels on each side (negative values shrink)."""
        return dataclasses.replace(
            self, x1=self.x1 - left, y1=self.y1 - top, x2=self.x2 + right, y2=self.y2 + bottom
        )

    def clipped(self, width: int, height: int) -> FaceBox:
        """Clamped to a ``width`` x ``height`` frame.

        Raises:
            InputError: if nothing of the box is inside the frame.
        """
        return dataclasses.replace(
            self,
            x1=min(max(self.x1, 0.0), width - 1.0),
            y1=min(max(self.y1, 0.0), height - 1.0),
            x2=min(max(self.x2, 1.0), float(width)),
            y2=min(max(self.y2, 1.0), float(height)),
        )

    def to_int(self) -> tuple[int, int, int, int]:
        """Integer pixel corners ``(x1, y1, x2, y2)`` (floor of the start, ceil of the end)."""
        return (
            math.floor(self.x1),
            math.floor(self.y1),
            max(math.ceil(self.x2), math.floor(self.x1) + 1),
            max(math.ceil(self.y2), math.floor(self.y1) + 1),
        )
