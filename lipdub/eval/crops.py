"""Face crops for the SyncNet protocol, from a cropped face video or from any video.

**Already cropped** (``cropped=True``): every frame (at 25 fps) is resized to 224x224;
this is what the reference's ``SyncNetInstance.evaluate`` scores.

**Any video**: lipdub's :class:`~lipdub.faces.FaceTracker` finds one face box per
frame, and each crop follows the reference's geometry around it: with ``s`` half the
larger box side and crop scale 0.4, the crop spans ``s`` above the box centre to
``1.8 s`` below it, and ``1.4 s`` either side of it (a square of side ``2.8 s``, so the
mouth sits in its lower middle), the frame padded with grey 110 where the crop runs
off it, then resized to 224x224.

How these crops differ from the reference's S3FD pipeline (``run_pipeline.py``), and
what that does to the numbers:

- the reference detects with S3FD on every frame, splits scenes with PySceneDetect,
  keeps only face tracks of at least 100 frames and median-filters the box centre and
  size over 13 frames; lipdub detects every few frames with the chosen detector (RetinaFace,
  S3FD, Haar) and smooths with its own moving average. Different box sizes scale the
  crop, which moves LSE-D / LSE-C by a few hundredths to tenths: compare numbers only
  between runs made the same way.
- frames without a face are cut out of the reference's tracks; here they take the
  nearest face box (the share of frames with a face is reported with the scores).
- the reference writes crops to an MPEG-4 video and then to JPEG files before scoring;
  lipdub scores decoded frames directly (no second lossy encode).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import cv2
import numpy as np
import numpy.typing as npt

from lipdub.eval.protocol import FPS
from lipdub.eval.scorer import CROP_SIZE
from lipdub.events import EventCallback, Progress, emit
from lipdub.types import FaceBox

__all__ = ["CROP_SCALE", "FaceCrops", "crop_face", "cropped_frames", "fill_gaps", "tracked_crops"]

#: The reference's crop scale around the face box.
CROP_SCALE = 0.4
_T = TypeVar("_T")
_PAD_VALUE = 110


@dataclass(frozen=True, slots=True)
class FaceCrops:
    """224x224 BGR crops of one clip and where they came from.

    Attributes:
        crops: ``(N, 224, 224, 3)`` uint8.
        boxes: The face box of every frame (None for a cropped input or no face).
        face_share: Fraction of frames where a face was found (1.0 for cropped input).
    """

    crops: npt.NDArray[np.uint8]
    boxes: tuple[FaceBox | None, ...]
    face_share: float


def crop_face(frame: npt.NDArray[np.uint8], box: FaceBox) -> npt.NDArray[np.uint8]:
    """The reference-geometry 224x224 crop of ``frame`` around ``box`` (see module doc).

    Example:
        >>> import numpy as np
        >>> crop_face(np.zeros((100, 100, 3), np.uint8), FaceBox(40, 40, 60, 60)).shape
        (224, 224, 3)
    """
    half = max(box.width, box.height) / 2
    pad = int(half * (1 + 2 * CROP_SCALE))
    padded = cv2.copyMakeBorder(
        frame, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(_PAD_VALUE,) * 3
    )
    cx, cy = box.center
    my, mx = cy + pad, cx + pad
    face = padded[
        int(my - half) : int(my + half * (1 + 2 * CROP_SCALE)),
        int(mx - half * (1 + CROP_SCALE)) : int(mx + half * (1 + CROP_SCALE)),
    ]
    if face.size == 0:
        face = np.full((CROP_SIZE, CROP_SIZE, 3), _PAD_VALUE, np.uint8)
    out = np.asarray(cv2.resize(face, (CROP_SIZE, CROP_SIZE)), dtype=np.uint8)
    return out


def _frames(path: str | os.PathLike[str]) -> Iterator[npt.NDArray[np.uint8]]:
    from lipdub.media import VideoReader

    with VideoReader(path, fps=FPS) as reader:
        yield from reader


def cropped_frames(
    path: str | os.PathLike[str], *, on_event: EventCallback | None = None
) -> FaceCrops:
    """The frames of an already-cropped face video at 25 fps, resized to 224x224."""
    out = []
    for i, frame in enumerate(_frames(path)):
        if frame.shape[:2] != (CROP_SIZE, CROP_SIZE):
            frame = np.asarray(cv2.resize(frame, (CROP_SIZE, CROP_SIZE)), dtype=np.uint8)
        out.append(frame)
        if i % 250 == 0:
            emit(on_event, Progress("crops", done=i + 1, unit="frames"))
    crops = np.stack(out) if out else np.zeros((0, CROP_SIZE, CROP_SIZE, 3), np.uint8)
    return FaceCrops(crops, (None,) * len(out), 1.0)


def fill_gaps(items: Sequence[_T | None]) -> list[_T | None]:
    """Each missing item (a box, a crop) takes the nearest earlier one, else the nearest
    later one; all None stays all None.

    Example:
        >>> fill_gaps([None, 1, None, None, 2, None])
        [1, 1, 1, 1, 2, 2]
    """
    out = list(items)
    last: _T | None = None
    for i, b in enumerate(out):
        last = b if b is not None else last
        out[i] = last
    nxt: _T | None = None
    for i in range(len(out) - 1, -1, -1):
        nxt = out[i] if out[i] is not None else nxt
        out[i] = out[i] if out[i] is not None else nxt
    return out


def tracked_crops(
    path: str | os.PathLike[str],
    detector: object,
    *,
    on_event: EventCallback | None = None,
) -> FaceCrops:
    """Crops of any video at 25 fps around the face lipdub's tracker follows.

    Args:
        path: The video.
        detector: A :class:`~lipdub.faces.FaceDetector`.
        on_event: Receives :class:`~lipdub.events.Progress` (stage ``"crops"``).

    Raises:
        NoFaceError: no frame has a face.
    """
    from lipdub.errors import NoFaceError
    from lipdub.faces import FaceDetector
    from lipdub.faces.track import FaceTracker

    assert isinstance(detector, FaceDetector)
    track = FaceTracker(detector).track(_frames(path), fps=FPS)
    if track.num_faces == 0:
        raise NoFaceError("no face found in any frame", path=path, hint="try another --detector")
    boxes = fill_gaps(track.boxes)
    out = []
    for i, frame in enumerate(_frames(path)):
        if i >= len(boxes):
            break
        box = boxes[i]
        assert box is not None
        out.append(crop_face(frame, box))
        if i % 250 == 0:
            emit(on_event, Progress("crops", done=i + 1, total=len(boxes), unit="frames"))
    return FaceCrops(np.stack(out), track.boxes[: len(out)], track.num_faces / max(1, len(track)))
