"""A mouth mask without a box: a feathered ellipse over the lower face.

The rectangular mask of :func:`~lipdub.lipsync.blend.blend_mask` fades over a band
along the box's straight edges, and a brightness or texture difference between the
generated crop and the frame then shows as a box from under the nose to the chin.
:func:`ellipse_mask` instead blends an ellipse fitted to the lower face — from the
detector's 5 landmarks (eyes, nose tip, mouth corners) when there are any: centred
between the mouth corners and the nose, reaching from just under the nose to near the
chin, as wide as the mouth plus a margin; from the box's proportions otherwise — and
feathers it with a Gaussian whose width scales with the face (no straight edge, no
fixed pixel count). The mask is exactly 0 outside the box and on its border rows and
columns, so nothing outside the box changes.

Example:
    >>> m = ellipse_mask(100, 80)
    >>> m.shape, float(m[0].max()), float(m[:, 0].max()), float(m[75, 40]) > 0.95
    ((100, 80), 0.0, 0.0, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import cv2
import numpy as np
import numpy.typing as npt

__all__ = ["DEFAULT_SOFTNESS", "ellipse_mask", "ellipse_params"]

#: Gaussian feather sigma as a fraction of the face box height.
DEFAULT_SOFTNESS = 0.05

Points = Sequence[tuple[float, float]]


def ellipse_params(
    height: int, width: int, landmarks: Points | None = None
) -> tuple[float, float, float, float]:
    """``(cx, cy, ax, ay)``: centre and semi-axes of the mouth ellipse in box pixels.

    Args:
        height: Box height.
        width: Box width.
        landmarks: The 5 detector points *relative to the box's top-left corner*
            (eyes, nose, mouth corners), or None.
    """
    top = 0.5 * height
    bottom = 0.93 * height
    cx = 0.5 * width
    half_w = 0.34 * width
    if landmarks is not None and len(landmarks) >= 5:
        nose = landmarks[2]
        ml, mr = landmarks[3], landmarks[4]
        mouth_y = 0.5 * (ml[1] + mr[1])
        # from just below the nose tip; never above the half the model redraws
        top = max(0.45 * height, min(nose[1] + 0.15 * (mouth_y - nose[1]), 0.7 * height))
        cx = float(np.clip(0.5 * (ml[0] + mr[0]), 0.3 * width, 0.7 * width))
        mouth_w = abs(mr[0] - ml[0])
        half_w = float(np.clip(0.5 * mouth_w + 0.16 * width, 0.25 * width, 0.4 * width))
    cy = 0.5 * (top + bottom)
    return cx, cy, half_w, 0.5 * (bottom - top)


def _window(n: int, ramp: int) -> npt.NDArray[np.float32]:
    """``n`` weights: 0 at both ends, a smoothstep over ``ramp`` pixels, 1 inside."""
    i = np.arange(n, dtype=np.float64)
    d = np.minimum(i, n - 1 - i) / max(1, ramp)  # 0 on the border
    t = np.clip(d, 0.0, 1.0)
    return np.asarray(t * t * (3 - 2 * t), np.float32)


@lru_cache(maxsize=128)
def _mask_cached(
    height: int, width: int, params: tuple[int, int, int, int], sigma_q: int
) -> npt.NDArray[np.float32]:
    cx, cy, ax, ay = (p / 4.0 for p in params)
    sigma = sigma_q / 4.0
    hard = np.zeros((height, width), np.float32)
    # drawn with 1/16-pixel precision (shift=4), anti-aliased
    cv2.ellipse(
        hard,
        (round(cx * 16), round(cy * 16)),
        (max(1, round(ax * 16)), max(1, round(ay * 16))),
        0.0,
        0.0,
        360.0,
        1.0,
        thickness=-1,
        lineType=cv2.LINE_AA,
        shift=4,
    )
    if sigma > 0:
        hard = np.asarray(cv2.GaussianBlur(hard, (0, 0), sigmaX=sigma, sigmaY=sigma), np.float32)
    # fade to exactly 0 at the box border (a smooth window, 0 on the border itself)
    ramp = max(2, round(sigma))
    wy = _window(height, ramp)
    wx = _window(width, ramp)
    mask = np.clip(hard * wy[:, None] * wx[None, :], 0.0, 1.0).astype(np.float32)
    mask[mask < 1e-3] = 0.0
    mask[0, :] = mask[-1, :] = 0.0
    mask[:, 0] = mask[:, -1] = 0.0
    out = np.ascontiguousarray(mask, dtype=np.float32)
    out.flags.writeable = False
    return out


def ellipse_mask(
    height: int,
    width: int,
    landmarks: Points | None = None,
    *,
    softness: float = DEFAULT_SOFTNESS,
) -> npt.NDArray[np.float32]:
    """Blending weights of the mouth ellipse for a ``height`` x ``width`` face box.

    Args:
        height: Box height in pixels.
        width: Box width in pixels.
        landmarks: 5 detector points relative to the box's top-left corner, or None
            (an ellipse from the box's proportions).
        softness: Gaussian feather sigma as a fraction of ``height`` (0: a hard,
            anti-aliased edge).

    Returns:
        ``(height, width)`` float32 in [0, 1], read-only (cached; parameters are
        quantised to 1/4 pixel).
    """
    cx, cy, ax, ay = ellipse_params(height, width, landmarks)
    sigma = max(0.0, softness) * height
    # keep the feathered edge inside the box: shrink the axes by ~2 sigma of margin
    margin = 2.0 * sigma
    ax = max(1.0, min(ax, cx - margin, width - 1 - cx - margin))
    ay = max(1.0, min(ay, cy - margin, height - 1 - cy - margin))
    q = (round(cx * 4), round(cy * 4), round(ax * 4), round(ay * 4))
    return _mask_cached(int(height), int(width), q, round(sigma * 4))
