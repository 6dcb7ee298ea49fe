"""Follow one face through a video: sparse detection, interpolation, smoothing.

Running a detector on every frame is what makes the original Wav2Lip slow, and its
per-frame boxes jitter. :class:`FaceTracker` instead:

1. detects on *keyframes* only: every ``detect_every``-th frame, the first and last
   frame of the video and of each scene, on a copy downscaled to ``max_side`` pixels
   (boxes are mapped back to the frame exactly);
2. finds scene cuts with a cheap test: the mean absolute difference of 32x18 grey
   thumbnails of consecutive frames, as a fraction of 255, above
   ``scene_cut_threshold``. Nothing (interpolation, gap bridging, smoothing) crosses a cut;
3. detects extra frames where two neighbouring detections disagree (one has a face and
   the other none, or their IoU is below ``redetect_iou``), halving the interval until
   they agree or are adjacent, so a fast move or a face leaving is found to the frame;
4. interpolates boxes linearly between agreeing detections, checking each interpolated
   box cheaply: if what is inside it (a 16x16 grey thumbnail) no longer looks like the
   crops at either detection (``crop_change_threshold``), that frame is detected too;
5. bridges runs of at most ``max_gap`` frames without a face (detector misses) by
   interpolating across them; longer runs stay empty (``None``);
6. smooths the box centre and size with a centred moving average over
   ``smooth_window`` frames (past *and* future, so a box moving steadily is not delayed;
   the window shrinks symmetrically at the ends of a run and never crosses a cut or an
   empty frame).

:meth:`FaceTracker.stream` works on an iterator of frames and yields ``(frame, box)``
pairs in input order; it holds at most :attr:`FaceTracker.lookahead_frames`
(``batch_size * detect_every + max_gap + smooth_window // 2 + 1``) frames, whatever the
video's length. :meth:`FaceTracker.track` returns a :class:`FaceTrack` that can be saved
as JSON and cached under :func:`~lipdub.faces.facetrack.track_cache_key`
(both in :mod:`lipdub.faces.facetrack`, re-exported here).

When several faces are found, the one overlapping the previous detection most (IoU of
at least 0.3, same scene) is kept so the track does not jump between people; otherwise
``select`` chooses (``"largest"``, ``"central"`` or a function), among the faces whose
centre lies inside ``region`` if one is given.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import logging
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt

from lipdub.errors import InputError
from lipdub.faces._scale import fit_within, unscale_box
from lipdub.faces.base import FaceDetector, Frame
from lipdub.faces.facetrack import FaceTrack, lerp_box, require_face, track_cache_key
from lipdub.types import FaceBox
from lipdub.typing import check_frame

__all__ = [
    "FaceTrack",
    "FaceTracker",
    "SelectFn",
    "pad_box",
    "require_face",
    "track_cache_key",
]

logger = logging.getLogger(__name__)

#: Chooses one face among several: ``fn(faces, frame) -> face or None``.
SelectFn = Callable[[Sequence[FaceBox], Frame], "FaceBox | None"]

_THUMB_SIZE = (32, 18)  # (width, height) of the scene-cut thumbnails
_CONTINUITY_IOU = 0.3


# --------------------------------------------------------------------------- helpers


def pad_box(
    box: FaceBox, pads: tuple[float, float, float, float], width: int, height: int
) -> FaceBox:
    """Grow a box by ``pads = (top, bottom, left, right)`` pixels and clip it to the frame.

    Wav2Lip's ``--pads`` convention (the default ``(0, 10, 0, 0)`` adds room for the chin).

    Example:
        >>> pad_box(FaceBox(10, 10, 50, 50), (0, 10, 0, 0), 100, 55).as_tuple()
        (10.0, 10.0, 50.0, 55.0)
    """
    top, bottom, left, right = pads
    return box.padded(top=top, bottom=bottom, left=left, right=right).clipped(width, height)


def _crop_thumbnail(frame: Frame, box: FaceBox) -> npt.NDArray[np.float32]:
    """16x16 grey thumbnail of the part of ``frame`` inside ``box`` (clipped)."""
    h, w = frame.shape[:2]
    x1 = min(max(0, math.floor(box.x1)), w - 1)
    y1 = min(max(0, math.floor(box.y1)), h - 1)
    x2 = max(min(w, math.ceil(box.x2)), x1 + 1)
    y2 = max(min(h, math.ceil(box.y2)), y1 + 1)
    gray = cv2.cvtColor(frame[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY)
    return np.asarray(cv2.resize(gray, (16, 16), interpolation=cv2.INTER_AREA), np.float32)


def _thumbnail(frame: Frame) -> npt.NDArray[np.float32]:
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    small = cv2.resize(gray, _THUMB_SIZE, interpolation=cv2.INTER_AREA)
    return np.asarray(small, np.float32)


# --------------------------------------------------------------------------- tracker


@dataclass(slots=True)
class _Rec:
    """One frame moving through the tracker's stages."""

    index: int
    frame: Frame
    scene: int
    box: FaceBox | None = None
    detected: bool = False


@dataclass(slots=True)
class TrackStats:
    """Counters of the last :meth:`FaceTracker.stream` run."""

    frames: int = 0
    detections: int = 0
    scene_cuts: int = 0
    bridged: int = 0


class FaceTracker:
    """Detect a face every few frames and follow it smoothly (see the module doc).

    Args:
        detector: Any :class:`FaceDetector`.
        detect_every: Detect on every N-th frame (1: every frame); in between, boxes are
            interpolated.
        max_side: Detect on a copy of the frame (or region) whose longer side is at most
            this many pixels; None: full resolution.
        smooth_window: Frames in the centred moving average (odd; 1 disables smoothing).
        max_gap: Longest run of frames without a detection (between two detections of
            the same scene) that is filled by interpolation.
        scene_cut_threshold: Mean absolute thumbnail difference (0..1) that counts as a
            cut; None disables cut detection.
        redetect_iou: Detect extra frames between two detections whose IoU is below this.
        crop_change_threshold: Detect an in-between frame again when the content of its
            interpolated box differs from both detections' crops by more than this (mean
            absolute difference of 16x16 grey thumbnails, 0..1); None disables the test.
        select: ``"largest"``, ``"central"`` or ``fn(faces, frame) -> face | None``.
        region: ``(x1, y1, x2, y2)`` in frame pixels: only look for the face there.
        batch_size: Keyframes sent to the detector in one call (look-ahead grows with it).

    Example:
        >>> import numpy as np
        >>> from lipdub.testing import FakeFaceDetector
        >>> frames = [np.full((90, 160, 3), 200, np.uint8)] * 7
        >>> track = FaceTracker(FakeFaceDetector(), detect_every=3).track(frames)
        >>> len(track), track.boxes[3].as_tuple()
        (7, (40.0, 22.5, 120.0, 67.5))
    """

    def __init__(
        self,
        detector: FaceDetector,
        *,
        detect_every: int = 5,
        max_side: int | None = 640,
        smooth_window: int = 5,
        max_gap: int = 12,
        scene_cut_threshold: float | None = 0.15,
        redetect_iou: float = 0.6,
        crop_change_threshold: float | None = 0.2,
        select: Literal["largest", "central"] | SelectFn = "largest",
        region: tuple[float, float, float, float] | None = None,
        batch_size: int = 4,
    ) -> None:
        if detect_every < 1:
            raise InputError(f"detect_every must be >= 1, got {detect_every}")
        if smooth_window < 1:
            raise InputError(f"smooth_window must be >= 1, got {smooth_window}")
        if max_gap < 0:
            raise InputError(f"max_gap must be >= 0, got {max_gap}")
        if batch_size < 1:
            raise InputError(f"batch_size must be >= 1, got {batch_size}")
        if max_side is not None and max_side < 16:
            raise InputError(f"max_side must be >= 16 pixels or None, got {max_side}")
        if not (isinstance(select, str) and select in ("largest", "central")) and not callable(
            select
        ):
            raise InputError(f"select must be 'largest', 'central' or a function, got {select!r}")
        if region is not None:
            x1, y1, x2, y2 = (float(v) for v in region)
            if not (x2 > x1 and y2 > y1):
                raise InputError(f"region must be (x1, y1, x2, y2) with x2 > x1, y2 > y1: {region}")
            region = (x1, y1, x2, y2)
        self.detector = detector
        self.detect_every = detect_every
        self.max_side = max_side
        self.smooth_window = smooth_window
        self.max_gap = max_gap
        self.scene_cut_threshold = scene_cut_threshold
        self.redetect_iou = redetect_iou
        self.crop_change_threshold = crop_change_threshold
        self.select = select
        self.region = region
        self.batch_size = batch_size
        self.stats = TrackStats()

    @property
    def lookahead_frames(self) -> int:
        """Most frames :meth:`stream` holds before yielding (its memory bound)."""
        return self.batch_size * self.detect_every + self.max_gap + self.smooth_window // 2 + 1

    @property
    def settings(self) -> dict[str, Any]:
        """The options that change the result (for :func:`track_cache_key`).

        Includes the detector's own :meth:`~lipdub.component.Component.settings`
        (thresholds, ``max_side``, the weights' sha256).
        """
        sel = (
            self.select
            if isinstance(self.select, str)
            else getattr(self.select, "__qualname__", repr(self.select))
        )
        det = self.detector
        return {
            "detector": f"{type(det).__module__}.{type(det).__qualname__}",
            "detector_name": det.name,
            "detector_settings": det.settings(),
            "detect_every": self.detect_every,
            "max_side": self.max_side,
            "smooth_window": self.smooth_window,
            "max_gap": self.max_gap,
            "scene_cut_threshold": self.scene_cut_threshold,
            "redetect_iou": self.redetect_iou,
            "crop_change_threshold": self.crop_change_threshold,
            "select": sel,
            "region": list(self.region) if self.region else None,
        }

    # ---------------------------------------------------------------- detection

    def _region_crop(self, frame: Frame) -> tuple[Frame, int, int]:
        if self.region is None:
            return frame, 0, 0
        h, w = frame.shape[:2]
        x1 = min(max(0, math.floor(self.region[0])), w - 1)
        y1 = min(max(0, math.floor(self.region[1])), h - 1)
        x2 = max(min(w, math.ceil(self.region[2])), x1 + 1)
        y2 = max(min(h, math.ceil(self.region[3])), y1 + 1)
        return frame[y1:y2, x1:x2], x1, y1

    def _choose(
        self, faces: Sequence[FaceBox], frame: Frame, previous: FaceBox | None
    ) -> FaceBox | None:
        if not faces:
            return None
        if previous is not None and len(faces) > 1:
            best = max(faces, key=previous.iou)
            if previous.iou(best) >= _CONTINUITY_IOU:
                return best
        if callable(self.select):
            return self.select(faces, frame)
        if self.select == "central":
            h, w = frame.shape[:2]
            return min(faces, key=lambda b: (b.center[0] - w / 2) ** 2 + (b.center[1] - h / 2) ** 2)
        return max(faces, key=lambda b: b.area)

    def _detect(self, recs: Sequence[_Rec], previous: FaceBox | None) -> None:
        """Detect on ``recs`` (one batch) and store the chosen box in each."""
        inputs = []
        for r in recs:
            crop, ox, oy = self._region_crop(r.frame)
            small, sx, sy = fit_within(crop, self.max_side)
            inputs.append((np.ascontiguousarray(small), sx, sy, ox, oy))
        found = self.detector.detect([i[0] for i in inputs])
        if len(found) != len(recs):
            raise InputError(
                f"detector {type(self.detector).__name__} returned {len(found)} results "
                f"for {len(recs)} frames"
            )
        self.stats.detections += len(recs)
        for r, faces, (_, sx, sy, ox, oy) in zip(recs, found, inputs, strict=True):
            boxes = []
            for b in faces:
                b = unscale_box(b, sx, sy)
                if ox or oy:
                    b = _shift(b, ox, oy)
                boxes.append(b)
            r.box = self._choose(boxes, r.frame, previous)
            r.detected = True
            if r.box is not None:
                previous = r.box

    def _refine(self, recs: list[_Rec], a: int, b: int) -> None:
        """Detect between ``recs[a]`` and ``recs[b]`` until neighbours agree; interpolate."""
        ra, rb = recs[a], recs[b]
        if b - a <= 1:
            return
        disagree = (ra.box is None) != (rb.box is None) or (
            ra.box is not None and rb.box is not None and ra.box.iou(rb.box) < self.redetect_iou
        )
        if disagree:
            m = (a + b) // 2
            self._detect([recs[m]], ra.box or rb.box)
            self._refine(recs, a, m)
            self._refine(recs, m, b)
            return
        if ra.box is None or rb.box is None:
            return  # both empty: the frames between stay empty
        boxes = [lerp_box(ra.box, rb.box, (k - a) / (b - a)) for k in range(a + 1, b)]
        if self.crop_change_threshold is not None:
            ends = (_crop_thumbnail(ra.frame, ra.box), _crop_thumbnail(rb.frame, rb.box))
            for k, box in enumerate(boxes, start=a + 1):
                thumb = _crop_thumbnail(recs[k].frame, box)
                change = min(float(np.mean(np.abs(thumb - e))) for e in ends) / 255.0
                if change > self.crop_change_threshold:
                    # what is inside the interpolated box no longer looks like either
                    # detection (occlusion, the face leaving and coming back): look again
                    self._detect([recs[k]], box)
                    self._refine(recs, a, k)
                    self._refine(recs, k, b)
                    return
        for k, box in enumerate(boxes, start=a + 1):
            recs[k].box = box

    def _resolve(self, recs: list[_Rec], keys: list[int], anchor: _Rec | None) -> None:
        """Detect the keyframes ``keys`` (indices into ``recs``), then fill between them."""
        previous = anchor.box if anchor is not None else None
        for start in range(0, len(keys), self.batch_size):
            batch = [recs[k] for k in keys[start : start + self.batch_size]]
            self._detect(batch, previous)
            for r in reversed(batch):
                if r.box is not None:
                    previous = r.box
                    break
        chain = ([anchor] if anchor is not None else []) + recs
        offset = 1 if anchor is not None else 0
        points = ([0] if anchor is not None else []) + [k + offset for k in keys]
        for a, b in itertools.pairwise(points):
            self._refine(chain, a, b)

    def _detect_stage(self, frames: Iterable[Frame]) -> Iterator[_Rec]:
        """Assign scenes, detect keyframes, fill boxes between them; yields in order."""
        buf: list[_Rec] = []
        keys: list[int] = []  # indices into buf
        anchor: _Rec | None = None  # last resolved keyframe of the current scene
        since_key = 0
        scene = 0
        prev_thumb: npt.NDArray[np.float32] | None = None
        index = 0
        for frame in frames:
            frame = check_frame(frame, what=f"frame {index}")
            cut = False
            if self.scene_cut_threshold is not None:
                thumb = _thumbnail(frame)
                if prev_thumb is not None and prev_thumb.shape == thumb.shape:
                    diff = float(np.mean(np.abs(thumb - prev_thumb))) / 255.0
                    cut = diff > self.scene_cut_threshold
                prev_thumb = thumb
            if cut:
                # close the old scene with a keyframe on its last frame, then flush it
                self.stats.scene_cuts += 1
                if buf and (not keys or keys[-1] != len(buf) - 1):
                    keys.append(len(buf) - 1)
                if buf:
                    self._resolve(buf, keys, anchor)
                    yield from buf
                buf, keys, anchor = [], [], None
                scene += 1
                since_key = self.detect_every  # first frame of a scene is a keyframe
            rec = _Rec(index, frame, scene)
            index += 1
            buf.append(rec)
            if (anchor is None and not keys) or since_key >= self.detect_every:
                keys.append(len(buf) - 1)
                since_key = 0
            since_key += 1
            if keys and keys[-1] == len(buf) - 1 and len(keys) >= self.batch_size:
                self._resolve(buf, keys, anchor)
                anchor = dataclasses.replace(buf[-1])  # later stages may change buf[-1].box
                yield from buf
                buf, keys = [], []
        if buf:
            if not keys or keys[-1] != len(buf) - 1:
                keys.append(len(buf) - 1)  # the last frame is a keyframe
            self._resolve(buf, keys, anchor)
            yield from buf
        self.stats.frames = index

    # ---------------------------------------------------------------- gap bridging

    def _bridge_stage(self, recs: Iterable[_Rec]) -> Iterator[_Rec]:
        """Fill runs of <= max_gap empty frames between two faces of one scene."""
        held: list[_Rec] = []  # empty frames right after a face, waiting for the next one
        last_box: FaceBox | None = None
        last_scene = -1
        for r in recs:
            if r.box is None:
                if last_box is not None and r.scene == last_scene and len(held) < self.max_gap:
                    held.append(r)
                    continue
                yield from held  # too long, or a new scene: they stay empty
                held = []
                last_box = None
                yield r
                continue
            if held and last_box is not None and r.scene == last_scene:
                n = len(held) + 1
                for k, h in enumerate(held, start=1):
                    h.box = lerp_box(last_box, r.box, k / n)
                self.stats.bridged += len(held)
            yield from held
            held = []
            last_box, last_scene = r.box, r.scene
            yield r
        yield from held

    # ---------------------------------------------------------------- smoothing

    def _smooth_stage(self, recs: Iterable[_Rec]) -> Iterator[_Rec]:
        """Centred moving average of box centre and size over runs of faces."""
        half = self.smooth_window // 2
        if half == 0:
            yield from recs
            return
        # The current run of faces: records not yet emitted and their (cx, cy, w, h);
        # `past` holds the values of up to `half` records of the run already emitted.
        pending: collections.deque[tuple[_Rec, npt.NDArray[np.float64]]] = collections.deque()
        past: collections.deque[npt.NDArray[np.float64]] = collections.deque(maxlen=half)

        def emit(run_ended: bool) -> _Rec:
            r, v = pending.popleft()
            ahead = len(pending) if run_ended else half
            k = min(half, len(past), ahead)
            window = [*list(past)[len(past) - k :], v, *(pending[i][1] for i in range(k))]
            cx, cy, w, h = (float(x) for x in np.mean(window, axis=0))
            past.append(v)
            assert r.box is not None
            r.box = _recentre(r.box, cx, cy, w, h)
            return r

        for r in recs:
            if pending and (r.box is None or r.scene != pending[-1][0].scene):
                while pending:  # the run ended: emit the rest with shrinking windows
                    yield emit(True)
                past.clear()
            if r.box is None:
                yield r
                continue
            b = r.box
            pending.append((r, np.array([*b.center, b.width, b.height], np.float64)))
            while len(pending) > half:
                yield emit(False)
        while pending:
            yield emit(True)

    # ---------------------------------------------------------------- public API

    def stream(self, frames: Iterable[Frame]) -> Iterator[tuple[Frame, FaceBox | None]]:
        """Yield ``(frame, box or None)`` for every frame, in input order.

        Args:
            frames: ``(H, W, 3)`` uint8 BGR frames, e.g. a
                :class:`~lipdub.media.VideoReader`. Consumed lazily.

        Yields:
            Each input frame (the same array object, unless it had to be made
            C-contiguous) with its face box in frame pixels, or None when the frame has
            no face.
        """
        self.stats = TrackStats()
        for r in self._smooth_stage(self._bridge_stage(self._detect_stage(frames))):
            yield r.frame, r.box
        logger.debug(
            "tracked %d frames: %d detections, %d scene cuts, %d bridged",
            self.stats.frames,
            self.stats.detections,
            self.stats.scene_cuts,
            self.stats.bridged,
        )

    def track(self, frames: Iterable[Frame], *, fps: float | None = None) -> FaceTrack:
        """Track the whole input and return a :class:`FaceTrack` (frames not kept)."""
        boxes = [box for _, box in self.stream(frames)]
        return FaceTrack(tuple(boxes), fps, self.settings)


def _recentre(box: FaceBox, cx: float, cy: float, w: float, h: float) -> FaceBox:
    """``box`` moved to centre ``(cx, cy)`` with size ``w`` x ``h`` (landmarks follow)."""
    ox, oy = box.center
    lm = None
    if box.landmarks is not None:
        lm = tuple((x + cx - ox, y + cy - oy) for x, y in box.landmarks)
    return FaceBox(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, box.score, lm)


def _shift(box: FaceBox, dx: float, dy: float) -> FaceBox:
    lm = None
    if box.landmarks is not None:
        lm = tuple((x + dx, y + dy) for x, y in box.landmarks)
    return FaceBox(box.x1 + dx, box.y1 + dy, box.x2 + dx, box.y2 + dy, box.score, lm)
