"""Detect on a downscaled copy, report boxes in the original frame's pixels.

Face detectors cost time in proportion to the pixel count, while a talking head in a
720p or 1080p video is large: detecting on a copy whose longer side is at most
``max_side`` pixels finds the same face several times faster. The copy is made with
area averaging (:data:`cv2.INTER_AREA`), and boxes found in it are divided by the exact
per-axis factors ``new_w / w`` and ``new_h / h``, so a box edge at ``x`` in the copy maps
to ``x * w / new_w`` in the frame (box corners are pixel *edges*, which makes this exact).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np

from lipdub.errors import InputError
from lipdub.faces.base import Frame
from lipdub.types import FaceBox
from lipdub.typing import check_frame

__all__ = ["detect_scaled", "fit_within", "unscale_box"]


def fit_within(frame: Frame, max_side: int | None) -> tuple[Frame, float, float]:
    """Downscale ``frame`` so that its longer side is at most ``max_side`` pixels.

    Args:
        frame: ``(H, W, 3)`` uint8 image.
        max_side: Longest allowed side in pixels; None (or a frame already small
            enough) returns the frame unchanged. Never upscales.

    Returns:
        ``(copy, sx, sy)``: the ``(h, w, 3)`` image and the factors ``w / W`` and
        ``h / H`` (1.0 when unchanged).
    """
    h, w = frame.shape[:2]
    if max_side is None or max(h, w) <= max_side:
        return frame, 1.0, 1.0
    if max_side < 16:
        raise InputError(f"max_side must be >= 16 pixels or None, got {max_side}")
    s = max_side / max(h, w)
    new_w = max(1, round(w * s))
    new_h = max(1, round(h * s))
    small = cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_AREA)
    return np.asarray(small, dtype=np.uint8), new_w / w, new_h / h


def unscale_box(box: FaceBox, sx: float, sy: float) -> FaceBox:
    """Map a box (and its landmarks) found in a copy scaled by ``(sx, sy)`` back."""
    if sx == 1.0 and sy == 1.0:
        return box
    lm = None
    if box.landmarks is not None:
        lm = tuple((x / sx, y / sy) for x, y in box.landmarks)
    return FaceBox(box.x1 / sx, box.y1 / sy, box.x2 / sx, box.y2 / sy, box.score, lm)


def detect_scaled(
    frames: Sequence[Frame],
    *,
    max_side: int | None,
    batch_size: int,
    run: Callable[[Sequence[Frame]], list[list[FaceBox]]],
) -> list[list[FaceBox]]:
    """Detect on downscaled copies in batches and map the boxes back.

    Frames are checked, shrunk with :func:`fit_within`, grouped into batches of up to
    ``batch_size`` consecutive frames of one size (a video's frames are all one size),
    passed to ``run`` (which returns boxes in the pixels of the images it was given),
    and the boxes are mapped back to each original frame with :func:`unscale_box`.
    """
    prepared = [fit_within(check_frame(f), max_side) for f in frames]
    results: list[list[FaceBox]] = [[] for _ in prepared]
    start = 0
    while start < len(prepared):
        shape = prepared[start][0].shape
        end = start + 1
        while end < len(prepared) and end - start < batch_size and prepared[end][0].shape == shape:
            end += 1
        found = run([p[0] for p in prepared[start:end]])
        for k, boxes in enumerate(found):
            _, sx, sy = prepared[start + k]
            results[start + k] = [unscale_box(b, sx, sy) for b in boxes]
        start = end
    return results
