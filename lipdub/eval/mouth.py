"""Eyes on the mouth: how sharp a lip-synced mouth is, and how still it stays in silence.

**The mouth region** of a face box is its lower half, widened by 10 % of the box width
each side and extended 10 % of its height below (:func:`mouth_rect`): where a
lip-syncer renders and blends. It is the region :mod:`lipdub.eval.compare` leaves out
of its PSNR/SSIM, so the two reports split each frame between them.

**Sharpness** (:func:`detail_energy`) is the energy of one band of spatial
frequencies in the grey mouth region, above the image's own noise floor:

1. the band is a difference of Gaussians (sigma 1 px minus sigma 2 px): an octave
   around 0.15 cycles/px (half power from about 0.08 to 0.26), with 0.5 cycles/px
   (the pixel grid, where sensor noise, compression blocks and resampling live)
   attenuated below 1 %. A face rendered at 96 px and scaled up to a 250-px face (720p)
   has nothing above 0.19 cycles/px; one rendered at 256 px keeps the whole band;
2. the noise level is estimated from the image itself: the median absolute value of
   its finest diagonal Haar coefficients / 0.6745 (Donoho's estimate, which edges
   barely move), times the band filter's gain;
3. each band coefficient is shrunk toward zero by that noise level (soft threshold),
   and the energy is the mean square of what is left.

Why the shrinkage: white noise spreads its energy over every frequency, the band
included. On the bundled real portrait with Gaussian noise at 30 dB PSNR, the band's
plain energy rises by 2 % (a 256-px square at the photo's resolution) to 9 % (the face
box scaled to 256 px); merely subtracting the expected noise energy leaves it within
about 2 % of the clean image, above it for some noise draws; the shrinkage puts it
12-21 % *below* the clean image, for every draw (``tests/test_eval_mouth.py``): noise
never reads as detail, and noise that hides detail scores lower.

The **sharpness** of a dub is the sum of its mouth regions' detail energy over the
frames with a face, divided by the same sum over the source's frames in the same
regions: 1.0 is as sharp as the source, below 1 softer.

**Stability** is the mean absolute change (grey levels, 0-255) of the mouth region
from one frame to the next, over the pairs of frames in *silence*, with the region of
the first frame's box used in both (so head motion counts in the source too, and the
source's own figure on the same pairs is reported beside it). A frame is silent when
the dub's audio from 5 frames (200 ms) before it to 5 frames after it stays below the
level threshold of :func:`silent_frames`: a mouth that should rest but flickers is the
jitter users report.

Example:
    >>> import numpy as np
    >>> from lipdub.types import FaceBox
    >>> mouth_rect(FaceBox(10, 10, 110, 130), (200, 200))
    (0, 70, 120, 142)
    >>> flat = np.full((64, 64), 128.0)
    >>> round(detail_energy(flat), 6)
    0.0
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from lipdub.events import EventCallback, Progress, emit
from lipdub.types import FaceBox
from lipdub.typing import Frame

__all__ = [
    "BAND_SIGMAS_PX",
    "SILENCE_MARGIN_FRAMES",
    "MouthReport",
    "detail_energy",
    "measure_frames",
    "measure_mouth",
    "mouth_rect",
    "noise_sigma",
    "silent_frames",
]

#: The band of :func:`detail_energy`: Gaussian sigmas (px) of the difference of Gaussians.
BAND_SIGMAS_PX = (1.0, 2.0)
#: A frame is silent when this many frames either side of it are silent too.
SILENCE_MARGIN_FRAMES = 5
#: Silence: a 40 ms frame whose RMS is this many dB below the loud level (95th percentile).
SILENCE_BELOW_LOUD_DB = 30.0
#: ... or below this absolute level (dB of int16 full scale), whichever is higher.
SILENCE_FLOOR_DBFS = -60.0
_MARGIN_PX = 6  # context around a region for the band filter (3 x the larger sigma)
_MAD_TO_SIGMA = 0.6745


def mouth_rect(box: FaceBox, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The mouth region of ``box`` in a frame of ``shape``: ``(x1, y1, x2, y2)`` pixels,
    clipped to the frame (see the module doc)."""
    h, w = shape[:2]
    dx, dy = 0.1 * box.width, 0.1 * box.height
    x1 = min(w, max(0, int(box.x1 - dx)))
    x2 = min(w, max(x1, math.ceil(box.x2 + dx)))
    y1 = min(h, max(0, int(box.y1 + box.height / 2)))
    y2 = min(h, max(y1, math.ceil(box.y2 + dy)))
    return x1, y1, x2, y2


def _grey(frame: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    if frame.ndim == 3:
        frame = cv2.cvtColor(np.ascontiguousarray(frame, np.uint8), cv2.COLOR_BGR2GRAY)
    return np.asarray(frame, np.float64)


def noise_sigma(grey: npt.NDArray[Any]) -> float:
    """The image's noise standard deviation (levels), from its finest diagonal detail.

    The median absolute orthonormal Haar diagonal coefficient / 0.6745: white noise of
    standard deviation s gives s; edges and texture move the median little.

    Example:
        >>> import numpy as np
        >>> noisy = np.random.default_rng(0).normal(128, 5, (128, 128))
        >>> round(noise_sigma(noisy))
        5
    """
    g = _grey(np.asarray(grey))
    g = g[: g.shape[0] // 2 * 2, : g.shape[1] // 2 * 2]
    if g.size == 0:
        return 0.0
    hh = (g[0::2, 0::2] - g[0::2, 1::2] - g[1::2, 0::2] + g[1::2, 1::2]) / 2
    return float(np.median(np.abs(hh)) / _MAD_TO_SIGMA)


def _band(grey: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    fine, coarse = BAND_SIGMAS_PX
    a = cv2.GaussianBlur(grey, (0, 0), fine, borderType=cv2.BORDER_REFLECT)
    b = cv2.GaussianBlur(grey, (0, 0), coarse, borderType=cv2.BORDER_REFLECT)
    return np.asarray(a - b, np.float64)


def _band_gain() -> float:
    """How the band filter scales white noise's standard deviation (its L2 norm)."""
    impulse = np.zeros((41, 41))
    impulse[20, 20] = 1.0
    return float(np.sqrt(np.sum(_band(impulse) ** 2)))


_GAIN = _band_gain()


def detail_energy(
    grey: npt.NDArray[Any],
    *,
    noise: float | None = None,
    margin_px: int = 0,
) -> float:
    """The band energy of an image above its noise floor (levels squared per pixel).

    Args:
        grey: ``(H, W)`` grey or ``(H, W, 3)`` BGR image.
        noise: The noise standard deviation to shrink by (levels); None: estimated with
            :func:`noise_sigma`; 0.0: the plain band energy.
        margin_px: Rows and columns at each edge that are context only: filtered, not
            counted (so a region cut with a margin is not judged by its border).

    Example:
        >>> import numpy as np
        >>> img = np.zeros((64, 64)); img[:, 32:] = 255.0
        >>> detail_energy(img) > detail_energy(img, noise=20.0) > 0
        True
    """
    g = _grey(np.asarray(grey))
    m = margin_px
    inner = g[m : g.shape[0] - m, m : g.shape[1] - m] if m else g
    if inner.size == 0:
        return 0.0
    sigma = noise_sigma(inner) if noise is None else float(noise)
    d = _band(g)
    if m:
        d = d[m:-m, m:-m]
    shrunk = np.maximum(np.abs(d) - sigma * _GAIN, 0.0)
    return float(np.mean(shrunk**2))


def silent_frames(
    audio: npt.NDArray[Any],
    num_frames: int,
    *,
    sample_rate_hz: int = 16000,
    fps: float = 25.0,
    margin_frames: int = SILENCE_MARGIN_FRAMES,
) -> npt.NDArray[np.bool_]:
    """Which video frames fall in silence, by level (no speech model).

    A frame's audio (its ``1 / fps`` of samples) is quiet when its RMS is
    :data:`SILENCE_BELOW_LOUD_DB` below the 95th percentile of the frames' RMS, or below
    :data:`SILENCE_FLOOR_DBFS`; a frame is silent when it and ``margin_frames`` frames
    either side are quiet (frames past the audio's end count as quiet).

    Args:
        audio: Mono samples, int16 or float in -1..1.
        num_frames: Video frames to classify.

    Example:
        >>> import numpy as np
        >>> tone = (np.sin(np.arange(16000) / 5) * 8000).astype(np.int16)
        >>> audio = np.concatenate([np.zeros(16000, np.int16), tone, np.zeros(16000, np.int16)])
        >>> s = silent_frames(audio, 75)
        >>> int(s[:25].sum()), int(s[25:50].sum()), int(s[50:].sum())
        (20, 0, 20)
    """
    x = np.asarray(audio)
    x = x.astype(np.float64) / 32768.0 if x.dtype == np.int16 else x.astype(np.float64)
    per = sample_rate_hz / fps
    db = np.full(num_frames, -200.0)
    for j in range(num_frames):
        chunk = x[round(j * per) : round((j + 1) * per)]
        if chunk.size:
            db[j] = 10 * math.log10(float(np.mean(chunk**2)) + 1e-20)
    loud = float(np.percentile(db, 95)) if num_frames else -200.0
    quiet = db < max(SILENCE_FLOOR_DBFS, loud - SILENCE_BELOW_LOUD_DB)
    m = margin_frames
    padded = np.concatenate([np.ones(m, bool), quiet, np.ones(m, bool)])
    out = np.ones(num_frames, bool)
    for k in range(2 * m + 1):
        out &= padded[k : k + num_frames]
    return np.asarray(out, np.bool_)


@dataclass(frozen=True, slots=True)
class MouthReport:
    """Sharpness and stability of a video's mouth region.

    Attributes:
        frames: Frames with a face box (the ones measured).
        sharpness: Detail energy of the video's mouth over the source's, summed over
            ``frames`` (1.0 as sharp as the source); None without a source, or when the
            source's mouth shows no detail above its noise.
        detail: Mean detail energy of the video's mouth (levels squared).
        source_detail: The same for the source (None without one).
        silent_pairs: Consecutive frame pairs in silence, both with a face.
        jitter: Mean absolute frame-to-frame change of the mouth over those pairs
            (grey levels); None when there are none.
        source_jitter: The source's change on the same pairs (None without one).
    """

    frames: int
    sharpness: float | None
    detail: float
    source_detail: float | None
    silent_pairs: int
    jitter: float | None
    source_jitter: float | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "frames": self.frames,
            "sharpness": self.sharpness,
            "detail": self.detail,
            "source_detail": self.source_detail,
            "silent_pairs": self.silent_pairs,
            "jitter": self.jitter,
            "source_jitter": self.source_jitter,
        }


def _cut(frame: Frame, rect: tuple[int, int, int, int]) -> npt.NDArray[np.float64]:
    x1, y1, x2, y2 = rect
    h, w = frame.shape[:2]
    m = _MARGIN_PX
    padded = cv2.copyMakeBorder(
        _grey(frame)[max(0, y1 - m) : y2 + m, max(0, x1 - m) : x2 + m],
        max(0, m - y1),
        max(0, y2 + m - h),
        max(0, m - x1),
        max(0, x2 + m - w),
        cv2.BORDER_REFLECT,
    )
    return np.asarray(padded, np.float64)


def measure_frames(
    frames: Iterable[Frame],
    sources: Iterable[Frame] | None,
    boxes: Sequence[FaceBox | None],
    silent: Sequence[bool] | npt.NDArray[np.bool_] = (),
) -> MouthReport:
    """Sharpness and stability of ``frames`` against ``sources`` (see the module doc).

    Args:
        frames: The lip-synced frames, ``(H, W, 3)`` uint8 BGR.
        sources: The source's frames, in step (None: no sharpness, no source jitter).
            The shorter of the two sequences is measured.
        boxes: The face box of each frame (None: no face; the frame is skipped).
        silent: Per frame, whether it is in silence (:func:`silent_frames`); missing
            entries count as not silent.

    Example:
        >>> import numpy as np
        >>> frame = np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)
        >>> r = measure_frames([frame] * 3, [frame] * 3, [FaceBox(8, 8, 56, 56)] * 3, [True] * 3)
        >>> r.sharpness, r.silent_pairs, r.jitter, r.source_jitter
        (1.0, 2, 0.0, 0.0)
    """
    srcs: Iterable[Frame | None] = sources if sources is not None else _nones()
    energy = src_energy = 0.0
    counted = pairs = 0
    jitter = src_jitter = 0.0
    prev: tuple[Frame, Frame | None, tuple[int, int, int, int]] | None = None
    for i, (frame, src) in enumerate(zip(frames, srcs, strict=False)):
        box = boxes[i] if i < len(boxes) else None
        quiet = bool(silent[i]) if i < len(silent) else False
        if box is None:
            prev = None
            continue
        rect = mouth_rect(box, frame.shape)
        if rect[2] <= rect[0] or rect[3] <= rect[1]:
            prev = None
            continue
        counted += 1
        energy += detail_energy(_cut(frame, rect), margin_px=_MARGIN_PX)
        if src is not None:
            src_energy += detail_energy(_cut(src, rect), margin_px=_MARGIN_PX)
        if prev is not None and quiet:
            p_frame, p_src, p_rect = prev
            pairs += 1
            jitter += _change(p_frame, frame, p_rect)
            if src is not None and p_src is not None:
                src_jitter += _change(p_src, src, p_rect)
        prev = (frame, src, rect) if quiet else None
    has_source = sources is not None and counted > 0
    sharp = energy / src_energy if has_source and src_energy > 0 else None
    return MouthReport(
        frames=counted,
        sharpness=None if sharp is None else float(sharp),
        detail=energy / counted if counted else 0.0,
        source_detail=src_energy / counted if has_source else None,
        silent_pairs=pairs,
        jitter=jitter / pairs if pairs else None,
        source_jitter=src_jitter / pairs if pairs and sources is not None else None,
    )


def _nones() -> Iterable[None]:
    while True:
        yield None


def _change(a: Frame, b: Frame, rect: tuple[int, int, int, int]) -> float:
    x1, y1, x2, y2 = rect
    if a.shape != b.shape:
        return 0.0
    return float(np.mean(np.abs(_grey(a[y1:y2, x1:x2]) - _grey(b[y1:y2, x1:x2]))))


def measure_mouth(
    video: str | os.PathLike[str],
    reference: str | os.PathLike[str] | None,
    boxes: Sequence[FaceBox | None],
    audio: npt.NDArray[np.int16],
    *,
    fps: float = 25.0,
    sample_rate_hz: int = 16000,
    on_event: EventCallback | None = None,
) -> MouthReport:
    """:func:`measure_frames` on a video and its source, read at ``fps``.

    Args:
        video: The lip-synced video.
        reference: The source it was made from (None: stability only).
        boxes: The face box of each frame at ``fps`` (the eval's tracked boxes).
        audio: The dub's audio, mono int16 at ``sample_rate_hz``: where it is silent.
        on_event: Receives :class:`~lipdub.events.Progress` (stage ``"mouth"``).

    Raises:
        InputError: The two videos' frame sizes differ.
    """
    from contextlib import ExitStack

    from lipdub.errors import InputError
    from lipdub.media import VideoReader

    silent = silent_frames(audio, len(boxes), sample_rate_hz=sample_rate_hz, fps=fps)
    with ExitStack() as stack:
        ours = stack.enter_context(VideoReader(video, fps=fps))
        theirs = None if reference is None else stack.enter_context(VideoReader(reference, fps=fps))

        def frames() -> Iterable[Frame]:
            for i, frame in enumerate(ours):
                if i % 250 == 0:
                    emit(on_event, Progress("mouth", done=i + 1, total=len(boxes), unit="frames"))
                yield frame

        def sources() -> Iterable[Frame]:
            assert theirs is not None
            for frame in theirs:
                if frame.shape[:2] != (ours.info.height, ours.info.width):
                    raise InputError(
                        f"frame sizes differ: {ours.info.width}x{ours.info.height} vs "
                        f"{frame.shape[1]}x{frame.shape[0]}",
                        path=reference,
                        hint="--reference must be the video that was lip-synced",
                    )
                yield frame

        return measure_frames(frames(), None if theirs is None else sources(), boxes, silent)
