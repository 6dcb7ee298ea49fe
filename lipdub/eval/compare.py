"""PSNR and SSIM of a lip-synced video against its original, outside the mouth region.

Lip-sync should change only the lower face. Each frame pair is compared on every pixel
except the mouth region: the lower half of the face box widened by 10 % each side and
extended 10 % of the box height below it (where a pasted face can also blend). No box:
the whole frame counts. PSNR is over the BGR pixels (8-bit peak 255, capped at 100 dB
for identical frames); SSIM is the usual Gaussian-window SSIM (sigma 1.5, K1 0.01,
K2 0.03) on the grey image, averaged over the unmasked pixels.

Example:
    >>> import numpy as np
    >>> a = np.zeros((32, 32, 3), np.uint8)
    >>> round(frame_psnr(a, a, None), 1), round(frame_ssim(a, a, None), 3)
    (100.0, 1.0)
"""

from __future__ import annotations

import math
import os
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from lipdub.errors import InputError
from lipdub.eval.mouth import mouth_rect
from lipdub.events import EventCallback, Progress, emit
from lipdub.types import FaceBox

__all__ = ["compare_outside_mouth", "frame_psnr", "frame_ssim", "outside_mouth_mask"]

_MAX_DB = 100.0


def outside_mouth_mask(shape: tuple[int, ...], box: FaceBox | None) -> npt.NDArray[np.bool_]:
    """True where a pixel is compared: everything but the mouth region of ``box``
    (:func:`lipdub.eval.mouth.mouth_rect`)."""
    mask = np.ones(shape[:2], bool)
    if box is None:
        return mask
    x1, y1, x2, y2 = mouth_rect(box, shape)
    mask[y1:y2, x1:x2] = False
    return mask


def frame_psnr(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8], box: FaceBox | None) -> float:
    """PSNR in dB of two same-size BGR frames outside the mouth region."""
    mask = outside_mouth_mask(a.shape, box)
    diff = a.astype(np.float64)[mask] - b.astype(np.float64)[mask]
    mse = float(np.mean(diff**2)) if diff.size else 0.0
    return _MAX_DB if mse == 0 else min(_MAX_DB, 10 * math.log10(255.0**2 / mse))


def frame_ssim(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8], box: FaceBox | None) -> float:
    """Mean SSIM of two same-size BGR frames (grey) outside the mouth region."""
    x = cv2.cvtColor(a, cv2.COLOR_BGR2GRAY).astype(np.float64)
    y = cv2.cvtColor(b, cv2.COLOR_BGR2GRAY).astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(img: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.asarray(cv2.GaussianBlur(img, (11, 11), 1.5), dtype=np.float64)

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    ssim = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    mask = outside_mouth_mask(a.shape, box)
    return float(ssim[mask].mean()) if mask.any() else 1.0


def compare_outside_mouth(
    video: str | os.PathLike[str],
    reference: str | os.PathLike[str],
    boxes: tuple[FaceBox | None, ...] = (),
    *,
    fps: float = 25.0,
    on_event: EventCallback | None = None,
) -> dict[str, Any]:
    """Mean/min PSNR and SSIM outside the mouth over the frames both videos have.

    Args:
        video: The lip-synced video.
        reference: The original.
        boxes: Face box per frame (at ``fps``) whose mouth region is left out.
        fps: Rate both are read at.

    Raises:
        InputError: the frame sizes differ.
    """
    from lipdub.media import VideoReader

    psnrs: list[float] = []
    ssims: list[float] = []
    with VideoReader(video, fps=fps) as ra, VideoReader(reference, fps=fps) as rb:
        for i, (a, b) in enumerate(zip(ra, rb, strict=False)):
            if a.shape != b.shape:
                raise InputError(
                    f"frame sizes differ: {a.shape[1]}x{a.shape[0]} vs {b.shape[1]}x{b.shape[0]}",
                    path=reference,
                    hint="--reference must be the video that was lip-synced",
                )
            box = boxes[i] if i < len(boxes) else None
            psnrs.append(frame_psnr(a, b, box))
            ssims.append(frame_ssim(a, b, box))
            if i % 250 == 0:
                emit(on_event, Progress("compare", done=i + 1, unit="frames"))
    if not psnrs:
        raise InputError("no frames to compare", path=reference)
    return {
        "frames": len(psnrs),
        "psnr_db_mean": float(np.mean(psnrs)),
        "psnr_db_min": float(np.min(psnrs)),
        "ssim_mean": float(np.mean(ssims)),
        "ssim_min": float(np.min(ssims)),
    }
