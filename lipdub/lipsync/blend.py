"""Cutting face crops out of frames and blending generated mouths back in.

:func:`crop_face` resizes the face box to the lip-syncer's square input (bilinear, as
the original Wav2Lip does). :func:`paste_face` resizes a generated crop back to the
box and blends it into the frame through a soft-edged mask: by default only the lower
half of the face (the part the generator redraws), with feathered edges so no seam
shows where the box ends. Pixels outside the box are never touched, and pixels where
the mask is 0 keep their exact values. Optionally the pasted colours are matched to
the original face (mean and spread per LAB channel), which hides the slight colour
shift some generators produce.

Example:
    >>> import numpy as np
    >>> from lipdub.types import FaceBox
    >>> frame = np.zeros((120, 160, 3), np.uint8)
    >>> box = FaceBox(40, 20, 120, 110)
    >>> crop_face(frame, box).shape
    (96, 96, 3)
    >>> out = paste_face(frame, box, np.full((96, 96, 3), 255, np.uint8))
    >>> int(out[:, :40].max()), int(out[100, 80].min()) > 0
    (0, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

from lipdub.errors import InputError
from lipdub.types import FaceBox
from lipdub.typing import Frame, check_frame

__all__ = [
    "DEFAULT_FEATHER",
    "MOUTH_TOP",
    "blend_mask",
    "crop_face",
    "mouth_top_from_landmarks",
    "paste_face",
    "paste_faces",
]

#: Default soft-edge width, as a fraction of the box's height (vertical edges) and
#: width (horizontal edges).
DEFAULT_FEATHER = 0.1
#: Where the redrawn region starts, as a fraction of the box height (the generator
#: sees the upper half of the face and redraws the lower half).
MOUTH_TOP = 0.5

BoxLike = FaceBox | Sequence[float]
MaskShape = Literal["ellipse", "box"]


def _int_box(box: BoxLike, width: int, height: int) -> tuple[int, int, int, int]:
    """Integer corners inside a ``width`` x ``height`` frame."""
    if not isinstance(box, FaceBox):
        if len(box) != 4:
            raise InputError(f"a box is (x1, y1, x2, y2), got {box!r}")
        bx1, by1, bx2, by2 = (float(v) for v in box)
        box = FaceBox(bx1, by1, bx2, by2)
    if box.x1 >= width or box.y1 >= height or box.x2 <= 0 or box.y2 <= 0:
        raise InputError(f"face box {box.as_tuple()} lies outside the {width}x{height} frame")
    x1, y1, x2, y2 = box.clipped(width, height).to_int()
    x1, y1 = max(0, x1), max(0, y1)
    x2, y2 = min(width, x2), min(height, y2)
    if x2 <= x1 or y2 <= y1:
        raise InputError(f"face box {box.as_tuple()} lies outside the {width}x{height} frame")
    return x1, y1, x2, y2


def crop_face(frame: Frame, box: BoxLike, size: int = 96) -> Frame:
    """The face box of ``frame`` resized to ``size`` x ``size`` (bilinear).

    Args:
        frame: ``(H, W, 3)`` uint8 BGR frame.
        box: A :class:`~lipdub.types.FaceBox` or ``(x1, y1, x2, y2)`` in pixels;
            clipped to the frame, then rounded outwards (:meth:`FaceBox.to_int`).
        size: Side of the square crop in pixels.

    Returns:
        ``(size, size, 3)`` uint8 BGR crop (a new array).
    """
    check_frame(frame)
    h, w = frame.shape[:2]
    x1, y1, x2, y2 = _int_box(box, w, h)
    region = frame[y1:y2, x1:x2]
    return np.ascontiguousarray(
        cv2.resize(region, (size, size), interpolation=cv2.INTER_LINEAR), dtype=np.uint8
    )


def _ramp(n: int, length: int, *, rising: bool) -> npt.NDArray[np.float32]:
    """``length`` weights going 0 -> 1 (or 1 -> 0) over ``n`` samples (n >= 0)."""
    out = np.ones(length, np.float32)
    n = min(n, length)
    if n > 0:
        r = (np.arange(n, dtype=np.float32) + 0.5) / n
        r = r * r * (3 - 2 * r)  # smoothstep: no visible kink at the ends
        if rising:
            out[:n] = r
        else:
            out[length - n :] = r[::-1]
    return out


@lru_cache(maxsize=64)
def _mask_cached(
    height: int, width: int, feather: float, mouth_only: bool, mouth_top: float
) -> npt.NDArray[np.float32]:
    fy = round(feather * height)
    fx = round(feather * width)
    col = np.ones(height, np.float32)
    if mouth_only:
        # 0 above the mouth region, a soft rise centred on its top line, then 1
        top = round(mouth_top * height)
        start = max(0, top - fy // 2)
        band = min(fy, height - start)
        col[:start] = 0.0
        col[start : start + band] = _ramp(band, band, rising=True)
    else:
        col *= _ramp(fy, height, rising=True)
    col *= _ramp(fy, height, rising=False)
    row = _ramp(fx, width, rising=True) * _ramp(fx, width, rising=False)
    mask = np.ascontiguousarray(col[:, None] * row[None, :])
    mask.flags.writeable = False
    return mask


def blend_mask(
    height: int,
    width: int,
    *,
    feather: float = DEFAULT_FEATHER,
    mouth_only: bool = True,
    mouth_top: float = MOUTH_TOP,
) -> npt.NDArray[np.float32]:
    """The blending weights :func:`paste_face` uses for a box of this size.

    Args:
        height: Box height in pixels.
        width: Box width in pixels.
        feather: Soft-edge width as a fraction of the box's height/width (0 = hard
            edges, at most 0.5).
        mouth_only: Only the lower part of the box, from ``mouth_top``; otherwise the
            whole box.
        mouth_top: Where the blended region starts, as a fraction of the box height
            (default :data:`MOUTH_TOP`, the half the model regenerates; see
            :func:`mouth_top_from_landmarks`).

    Returns:
        ``(height, width)`` float32 in [0, 1] (read-only; cached).
    """
    if not 0.0 <= feather <= 0.5:
        raise InputError(f"feather must be between 0 and 0.5, got {feather}")
    if height <= 0 or width <= 0:
        raise InputError(f"mask size must be positive, got {width}x{height}")
    if not 0.0 <= mouth_top < 1.0:
        raise InputError(f"mouth_top must be in [0, 1), got {mouth_top}")
    return _mask_cached(
        int(height), int(width), float(feather), bool(mouth_only), round(float(mouth_top), 3)
    )


def mouth_top_from_landmarks(box: FaceBox) -> float:
    """Where to start blending in ``box``: just below the nose when landmarks say so.

    With the 5-point landmarks (eyes, nose, mouth corners) the blended region starts
    at the nose tip, so a tall or padded box does not paste generated cheeks over the
    nose; the value is clamped to [:data:`MOUTH_TOP`, 0.65] of the box height (never
    above the half the model redraws) and rounded to 0.05 (few mask shapes to cache).
    Without landmarks: :data:`MOUTH_TOP`.
    """
    if not box.landmarks or len(box.landmarks) < 3 or box.height <= 0:
        return MOUTH_TOP
    nose_y = box.landmarks[2][1]
    frac = (nose_y - box.y1) / box.height
    return round(min(max(frac, MOUTH_TOP), 0.65) * 20) / 20


def _match_colours(
    generated: npt.NDArray[np.uint8],
    original: npt.NDArray[np.uint8],
    weights: npt.NDArray[np.float32],
) -> npt.NDArray[np.uint8]:
    """Shift and scale each LAB channel of ``generated`` to the original's statistics,
    measured over the pixels where ``weights > 0``."""
    sel = (weights > 0).astype(np.uint8)
    if int(sel.sum()) < 4:
        return generated
    # 8-bit LAB: table-driven in OpenCV (~10x faster than float LAB), +-1 level
    gen_lab = cv2.cvtColor(np.ascontiguousarray(generated), cv2.COLOR_BGR2LAB)
    org_lab = cv2.cvtColor(np.ascontiguousarray(original), cv2.COLOR_BGR2LAB)
    g_mean, g_std = (v.reshape(3).astype(np.float32) for v in cv2.meanStdDev(gen_lab, mask=sel))
    o_mean, o_std = (v.reshape(3).astype(np.float32) for v in cv2.meanStdDev(org_lab, mask=sel))
    scale = np.where(g_std > 0.5, o_std / np.maximum(g_std, 0.5), 1.0).astype(np.float32)
    matched = (gen_lab.astype(np.float32) - g_mean) * scale + o_mean
    lab = np.clip(np.rint(matched), 0, 255).astype(np.uint8)
    out: npt.NDArray[np.uint8] = np.asarray(cv2.cvtColor(lab, cv2.COLOR_LAB2BGR), dtype=np.uint8)
    return out


def paste_face(
    frame: Frame,
    box: BoxLike,
    generated: npt.NDArray[np.uint8],
    *,
    feather: float = DEFAULT_FEATHER,
    color_match: bool = False,
    mouth_only: bool = True,
    inplace: bool = False,
    mouth_top: float = MOUTH_TOP,
    shape: MaskShape = "box",
) -> Frame:
    """Blend a generated face crop back into its frame.

    The crop is resized (bilinear) to the box, then mixed in with
    :func:`blend_mask`'s weights: ``out = frame * (1 - m) + generated * m``, rounded.

    Args:
        frame: ``(H, W, 3)`` uint8 BGR frame the crop was cut from.
        box: The same box as given to :func:`crop_face`.
        generated: ``(S, S, 3)`` uint8 BGR crop from the lip-syncer.
        feather: Soft-edge width, fraction of the box size (0 = hard edges, which with
            ``mouth_only=False`` is the original Wav2Lip's plain paste).
        color_match: Match the pasted region's colours (LAB mean/std) to the original.
        mouth_only: Blend only the lower half of the face (recommended: the upper half
            of the generated crop is a blurry copy of the input).
        inplace: Write into ``frame`` instead of a copy.
        mouth_top: Start of the blended region as a fraction of the box height (see
            :func:`blend_mask`, :func:`mouth_top_from_landmarks`).
        shape: ``"box"`` (the feathered lower part of the box, :func:`blend_mask`) or
            ``"ellipse"`` (:func:`lipdub.lipsync.mask.ellipse_mask`: an ellipse over the
            mouth fitted to the box's landmarks, Gaussian feather of ``feather / 2``
            of the box height; no straight edge). ``mouth_only=False`` always uses
            the box.

    Returns:
        The blended ``(H, W, 3)`` uint8 frame; pixels outside the box (and wherever the
        mask is 0) are byte-identical to ``frame``.
    """
    check_frame(frame)
    gen = np.asarray(generated)
    if gen.ndim != 3 or gen.shape[2] != 3 or gen.dtype != np.uint8:
        raise InputError(f"generated crop must be (S, S, 3) uint8, got {gen.shape} {gen.dtype}")
    h, w = frame.shape[:2]
    x1, y1, x2, y2 = _int_box(box, w, h)
    bw, bh = x2 - x1, y2 - y1
    out = frame if inplace else frame.copy()
    if shape == "ellipse" and mouth_only:
        from lipdub.lipsync.mask import ellipse_mask

        marks = None
        if isinstance(box, FaceBox) and box.landmarks:
            marks = tuple((x - x1, y - y1) for x, y in box.landmarks)
        mask = ellipse_mask(bh, bw, marks, softness=feather / 2)
    else:
        mask = blend_mask(bh, bw, feather=feather, mouth_only=mouth_only, mouth_top=mouth_top)
    # blend only the rectangle where the mask is not 0 (an ellipse covers a fraction
    # of the box; the box mask starts at the mouth)
    rows = np.flatnonzero(mask.max(axis=1) > 0)
    if rows.size == 0:
        return out
    cols = np.flatnonzero(mask.max(axis=0) > 0)
    r0, r1 = int(rows[0]), int(rows[-1]) + 1
    c0, c1 = int(cols[0]), int(cols[-1]) + 1
    resized = np.asarray(
        cv2.resize(gen, (bw, bh), interpolation=cv2.INTER_LINEAR)[r0:r1, c0:c1], dtype=np.uint8
    )
    m = mask[r0:r1, c0:c1, None]
    target = out[y1 + r0 : y1 + r1, x1 + c0 : x1 + c1]
    if color_match:
        resized = _match_colours(resized, target, mask[r0:r1, c0:c1])
    mixed = target.astype(np.float32) * (1.0 - m) + resized.astype(np.float32) * m
    target[...] = np.rint(mixed).astype(np.uint8)
    return out


def paste_faces(
    frames: Sequence[Frame],
    boxes: Sequence[BoxLike | None],
    generated: npt.NDArray[np.uint8] | Sequence[npt.NDArray[np.uint8] | None],
    *,
    feather: float = DEFAULT_FEATHER,
    color_match: bool = False,
    mouth_only: bool = True,
    inplace: bool = False,
) -> list[Frame]:
    """:func:`paste_face` over a batch; frames whose box (or crop) is None pass through.

    Returns:
        One frame per input frame, in order.
    """
    if not (len(frames) == len(boxes) == len(generated)):
        raise InputError(
            f"paste_faces got {len(frames)} frames, {len(boxes)} boxes, "
            f"{len(generated)} crops; they must match"
        )
    out: list[Frame] = []
    for frame, box, gen in zip(frames, boxes, generated, strict=True):
        if box is None or gen is None:
            out.append(frame)
            continue
        out.append(
            paste_face(
                frame,
                box,
                gen,
                feather=feather,
                color_match=color_match,
                mouth_only=mouth_only,
                inplace=inplace,
            )
        )
    return out
