"""Probing and decoding video (and still images) with PyAV.

:func:`probe` reads a file's header (plus its first frame, for the rotation) into a
:class:`~lipdub.types.VideoInfo`. :class:`VideoReader` streams ``(H, W, 3)`` uint8 BGR
frames one at a time, so memory stays constant however long the video is. Frames come
out upright (the display rotation is applied) and at a constant frame rate: a variable
frame rate input, or a request for another rate, is resampled on the frame timestamps
by duplicating or dropping frames, the way a player would show them.

PyAV (FFmpeg's libraries) does the decoding in-process, with FFmpeg's own threads; no
``ffmpeg`` binary and no temporary files are involved.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import av
import av.container
import av.video.stream
import numpy as np
from av.video.reformatter import Interpolation

from lipdub._checks import fps_arg, path_arg
from lipdub._io import file_kind
from lipdub.errors import InputError, MediaError
from lipdub.limits import Limits, fit_pixels, resolve
from lipdub.media._open import (
    IMAGE_FORMATS,
    IMAGE_SUFFIXES,
    check_exists,
    media_error,
    open_input,
)
from lipdub.types import VideoInfo
from lipdub.typing import Frame, PathLike

__all__ = ["VideoReader", "is_image", "iter_frames", "probe", "read_image"]

logger = logging.getLogger(__name__)


#: Frame rate given to still images (one frame, no duration of their own).
IMAGE_FPS = Fraction(25)

#: Frame rates a variable-rate video's average is snapped to (the nearest, within 5 %).
_COMMON_RATES = tuple(
    Fraction(r)
    for r in (
        Fraction(24000, 1001),
        24,
        25,
        Fraction(30000, 1001),
        30,
        48,
        50,
        Fraction(60000, 1001),
        60,
    )
)

_NO_VIDEO_HINT = "pass a video or image file; for sound only use lipdub.media.load_audio"


def _image_magic(head: bytes) -> bool:
    return (
        head.startswith(b"\x89PNG\r\n\x1a\n")
        or head.startswith(b"\xff\xd8\xff")
        or head.startswith(b"BM")
        or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
        or head[:4] in (b"II*\x00", b"MM\x00*")
    )


def is_image(path: PathLike) -> bool:
    """Whether ``path`` is a still image (PNG, JPEG, WebP, BMP, TIFF).

    The file's first bytes decide when it can be read; otherwise the suffix does.

    Example:
        >>> is_image("face.PNG"), is_image("clip.mp4")
        (True, False)
    """
    p = path_arg(path, "path")
    if file_kind(p) is not None:  # never open a FIFO or a device just to peek
        return p.suffix.lower() in IMAGE_SUFFIXES
    try:
        with p.open("rb") as fh:
            head = fh.read(16)
    except OSError:
        return p.suffix.lower() in IMAGE_SUFFIXES
    if len(head) >= 12:
        return _image_magic(head)
    return p.suffix.lower() in IMAGE_SUFFIXES


#: swscale flags for colour conversion: accurate rounding keeps greys grey (the fast
#: default shifts them by ~3 levels per conversion).
ACCURATE = Interpolation.BILINEAR | Interpolation.ACCURATE_RND


def _to_bgr(frame: av.VideoFrame, rotation: int, size: tuple[int, int] | None = None) -> Frame:
    """``frame`` as upright BGR; ``size`` ``(width, height)`` (upright) scales it first."""
    scale: dict[str, Any] = {}
    if size is not None:
        w, h = size if rotation in (0, 180) else (size[1], size[0])
        if (w, h) != (frame.width, frame.height):
            scale = {"width": w, "height": h}
    arr: Frame = np.asarray(
        frame.to_ndarray(format="bgr24", interpolation=ACCURATE, **scale), dtype=np.uint8
    )
    if rotation:
        # ``rotation`` is clockwise; np.rot90 turns counter-clockwise for positive k.
        arr = np.ascontiguousarray(np.rot90(arr, k=-(rotation // 90)))
    return arr


def _frame_rotation(frame: av.VideoFrame) -> int:
    """Clockwise display rotation of a decoded frame (from its display matrix)."""
    ccw = getattr(frame, "rotation", 0) or 0
    return round(-float(ccw) / 90.0) * 90 % 360


def _tag_rotation(stream: Any) -> int | None:
    tag = stream.metadata.get("rotate") if stream.metadata else None
    if tag is None:
        return None
    try:
        return round(float(tag) / 90.0) * 90 % 360
    except ValueError:
        return None


def _snap_rate(rate: Fraction) -> Fraction:
    """The common frame rate nearest ``rate`` if within 5 %, else ``rate`` rounded."""
    nearest = min(_COMMON_RATES, key=lambda common: abs(rate - common))
    if abs(rate - nearest) <= nearest * Fraction(5, 100):
        return nearest
    return rate.limit_denominator(100)


def _is_vfr(stream: av.video.stream.VideoStream) -> bool:
    """Whether the frame timestamps are irregular (more than 25 % spread)."""
    entries: Any = stream.index_entries
    n = len(entries)
    if n >= 3:
        ts = sorted({int(entries[i].timestamp) for i in range(min(n, 2000))})
        diffs = np.diff(np.asarray(ts, dtype=np.int64))
        if diffs.size >= 2:
            med = float(np.median(diffs))
            return med > 0 and float(diffs.max() - diffs.min()) > 0.25 * med
        return False
    avg, base = stream.average_rate, stream.base_rate
    if avg and base:
        return bool(abs(Fraction(avg) - Fraction(base)) > Fraction(base) * Fraction(5, 100))
    return False


def _tag_duration_s(stream: Any) -> float | None:
    """Matroska/WebM keep each track's length in a ``DURATION`` tag (``HH:MM:SS.fff``)."""
    tag = (stream.metadata or {}).get("DURATION") or (stream.metadata or {}).get("duration")
    if not tag:
        return None
    try:
        hours, minutes, seconds = str(tag).split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except ValueError:
        return None


def _stream_duration_s(stream: Any, container: av.container.InputContainer) -> float:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    tagged = _tag_duration_s(stream)
    if tagged:
        return tagged
    if container.duration:
        return float(container.duration) / av.time_base
    return 0.0


def _first_frame(container: av.container.InputContainer, path: Path) -> av.VideoFrame:
    stream = container.streams.video[0]
    try:
        for frame in container.decode(stream):
            return frame
    except (av.FFmpegError, OSError) as e:
        raise media_error(path, "cannot decode the first video frame", e) from e
    raise MediaError(
        "the video track holds no decodable frames",
        path=path,
        hint="the file may be truncated or damaged; re-export it",
    )


def _probe_open(container: av.container.InputContainer, path: Path) -> VideoInfo:
    if not container.streams.video:
        if container.streams.audio:
            raise MediaError(
                "has no video track (it holds only sound)", path=path, hint=_NO_VIDEO_HINT
            )
        raise MediaError(
            "has no video track (no readable streams at all; truncated or not media)",
            path=path,
            hint="get the complete file, or pass a video or image",
        )
    stream = container.streams.video[0]
    audio = container.streams.audio[0] if container.streams.audio else None
    codec = stream.codec_context.name if stream.codec_context else None
    image = container.format.name in IMAGE_FORMATS or (
        stream.frames <= 1 and path.suffix.lower() in IMAGE_SUFFIXES
    )
    tag_rot = _tag_rotation(stream)
    first = _first_frame(container, path)
    rotation = tag_rot if tag_rot is not None else _frame_rotation(first)
    w, h = first.width, first.height
    if rotation in (90, 270):
        w, h = h, w
    common: dict[str, Any] = {
        "path": str(path),
        "width": w,
        "height": h,
        "rotation": rotation,
        "has_audio": audio is not None,
        "audio_sample_rate_hz": audio.codec_context.sample_rate if audio is not None else None,
        "codec": codec,
    }
    if image:
        return VideoInfo(fps=IMAGE_FPS, frame_count=1, duration_s=0.0, is_image=True, **common)
    vfr = _is_vfr(stream)
    rate = stream.average_rate if vfr else (stream.guessed_rate or stream.base_rate)
    rate = rate or stream.average_rate or stream.base_rate
    fps = Fraction(rate) if rate else Fraction(25)
    if fps <= 0 or fps > 1000:
        fps = Fraction(25)
    if vfr:
        fps = _snap_rate(fps)
    duration_s = _stream_duration_s(stream, container)
    if stream.frames > 0 and not vfr:
        frame_count = int(stream.frames)
    else:
        frame_count = max(1, round(duration_s * fps))
    if duration_s <= 0:
        duration_s = float(frame_count / fps)
    return VideoInfo(
        fps=fps,
        frame_count=frame_count,
        duration_s=duration_s,
        variable_frame_rate=vfr,
        **common,
    )


def probe(path: PathLike) -> VideoInfo:
    """Describe a video or still image: size, frame rate, frame count, rotation, audio.

    Args:
        path: A video (mp4, mov, mkv, webm, avi, ...) or image (png, jpg, webp, bmp).

    Returns:
        The :class:`~lipdub.types.VideoInfo`. ``fps`` is an exact fraction; ``width``
        and ``height`` are the size after rotation; ``rotation`` is the clockwise
        display rotation (0/90/180/270) from the display matrix or the ``rotate`` tag.
        A still image has ``is_image=True``, one frame, fps 25 and duration 0.

    Raises:
        MediaError: The file is missing, not media, truncated, or has no video track.

    Example:
        >>> from lipdub.testing.media import make_test_video
        >>> import tempfile, os
        >>> info = probe(make_test_video(os.path.join(tempfile.mkdtemp(), "a.mp4"),
        ...                              duration_s=0.4, size=(64, 48)))
        >>> (info.width, info.height, info.fps, info.frame_count, info.has_audio)
        (64, 48, Fraction(25, 1), 10, True)
    """
    p = check_exists(path)
    container = open_input(p)
    try:
        return _probe_open(container, p)
    finally:
        container.close()


class VideoReader:
    """Streams the frames of a video (or a still image) as ``(H, W, 3)`` uint8 BGR.

    Frames are decoded lazily, one at a time, with FFmpeg's threaded decoding; memory
    does not grow with the video's length. Each frame is upright (display rotation
    applied), and frames come at a constant rate: ``info.fps``, or ``fps`` if given.
    Frames are placed by their timestamps: output frame ``i`` is the input frame on
    screen at ``i / fps`` seconds, so a variable frame rate input, a gap left by dropped
    frames, or a requested ``fps`` other than the file's is handled by duplicating or
    dropping frames (a regular file gives every frame exactly once). Exactly
    ``info.frame_count`` frames come out; with ``fps`` given, ``info`` reports that
    rate and the matching count. A still image yields exactly one frame.

    Size limits (see :mod:`lipdub.limits`): a still image over
    ``limits.max_image_pixels`` (default 2048x2048) is read downscaled to fit (``info``
    reports the size delivered, ``source_info`` the file's); a video whose frames are
    over ``limits.max_frame_pixels`` (default 4096x2304) is refused.

    Args:
        path: Video or image file.
        fps: Output frame rate; None keeps the file's (the average rate when variable).
        limits: The frame size limit (default: the ``LIPDUB_*`` environment variables,
            else :class:`~lipdub.limits.Limits` defaults).

    Raises:
        MediaError: The file cannot be opened or decoded (also raised mid-iteration
            for damage found while decoding), or a video's frames exceed the limit.

    Example:
        >>> from lipdub.testing.media import make_test_video
        >>> import tempfile, os
        >>> clip = make_test_video(os.path.join(tempfile.mkdtemp(), "a.mp4"),
        ...                        duration_s=0.4, size=(64, 48), audio=False)
        >>> with VideoReader(clip) as reader:
        ...     frames = list(reader)
        >>> len(frames), frames[0].shape, frames[0].dtype
        (10, (48, 64, 3), dtype('uint8'))
    """

    def __init__(
        self,
        path: PathLike,
        *,
        fps: Fraction | float | int | None = None,
        limits: Limits | None = None,
    ) -> None:
        want = fps_arg(fps) if fps is not None else None
        if limits is not None and not isinstance(limits, Limits):
            raise InputError(f"limits must be a Limits or None, got {type(limits).__name__}")
        self.path = check_exists(path)
        info = probe(self.path)
        self.source_info = info
        lim = resolve(limits)
        self._size: tuple[int, int] | None = None
        limit = lim.max_image_pixels if info.is_image else lim.max_frame_pixels
        if info.width * info.height > limit:
            info = self._over_limit(info, lim)
        if want is not None and not info.is_image and want != info.fps:
            info = dataclasses.replace(
                info, fps=want, frame_count=max(1, round(info.duration_s * want))
            )
        self.info: VideoInfo = info
        self._container: av.container.InputContainer | None = None
        self._started = False

    def _over_limit(self, info: VideoInfo, lim: Limits) -> VideoInfo:
        mp = info.width * info.height / 1e6
        if not info.is_image:
            raise MediaError(
                f"the video's frames are {info.width}x{info.height} ({mp:.1f} megapixels), "
                f"over the {lim.max_frame_pixels} pixel limit on working frames",
                path=self.path,
                hint="downscale it first (e.g. to 3840x2160); to process it anyway set "
                f"{Limits.env_var('max_frame_pixels')} or pass limits=Limits(max_frame_pixels=...)",
            )
        w, h = fit_pixels(info.width, info.height, lim.max_image_pixels)
        logger.warning(
            "%s: the image is %dx%d (%.1f megapixels); using it downscaled to %dx%d "
            "(the limit is %d pixels, %s)",
            self.path,
            info.width,
            info.height,
            mp,
            w,
            h,
            lim.max_image_pixels,
            Limits.env_var("max_image_pixels"),
        )
        self._size = (w, h)
        return dataclasses.replace(info, width=w, height=h)

    # -------------------------------------------------------------- context manager
    def __enter__(self) -> VideoReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the file (safe to call twice)."""
        if self._container is not None:
            self._container.close()
            self._container = None

    def __len__(self) -> int:
        return self.info.frame_count

    # -------------------------------------------------------------- iteration
    def __iter__(self) -> Iterator[Frame]:
        if self._started:
            raise MediaError(
                "a VideoReader can be iterated only once",
                path=self.path,
                hint="open a new VideoReader to read the frames again",
            )
        self._started = True
        return self._frames()

    def _decoded(self) -> Iterator[tuple[float, av.VideoFrame]]:
        container = open_input(self.path)
        self._container = container
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        index = 0
        try:
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else index / float(self.info.fps)
                yield t, frame
                index += 1
        except (av.FFmpegError, OSError) as e:
            raise media_error(
                self.path,
                f"decoding failed after {index} frames",
                e,
                hint="the file may be damaged; re-export it as MP4 (H.264 + AAC)",
            ) from e
        finally:
            self.close()

    def _frames(self) -> Iterator[Frame]:
        rotation = self.info.rotation
        if self.info.is_image:
            for _, frame in self._decoded():
                yield _to_bgr(frame, rotation, self._size)
                return
            return
        yield from self._resampled(rotation)

    def _resampled(self, rotation: int) -> Iterator[Frame]:
        """Output frame ``i`` is the input frame on screen at ``i / fps`` (nearest slot).

        Each input frame claims the output slot nearest its timestamp; a later frame
        claiming the same slot replaces it (dropped), and a frame holds its slot until
        the next one's (duplicated). Output stops at ``info.frame_count`` frames (the
        duration times the rate); a short stream is padded with its last frame.
        """
        fps = float(self.info.fps)
        total = self.info.frame_count
        emitted = 0
        held: av.VideoFrame | None = None
        held_slot = 0
        start: float | None = None
        for t, frame in self._decoded():
            if start is None:
                start = t
            slot = math.floor((t - start) * fps + 0.5)
            if held is not None and slot > held_slot:
                image = _to_bgr(held, rotation)
                while emitted < min(slot, total):
                    yield image
                    emitted += 1
            if emitted >= total:
                return
            held, held_slot = frame, max(slot, emitted)
        if held is None:
            return
        image = _to_bgr(held, rotation)
        while emitted < total:
            yield image
            emitted += 1


def iter_frames(
    path: PathLike, *, fps: Fraction | float | int | None = None, limits: Limits | None = None
) -> Iterator[Frame]:
    """Yield the ``(H, W, 3)`` uint8 BGR frames of ``path`` (see :class:`VideoReader`).

    The file is closed when the iterator is exhausted or garbage-collected.
    """
    with VideoReader(path, fps=fps, limits=limits) as reader:
        yield from reader


def read_image(path: PathLike, *, limits: Limits | None = None) -> Frame:
    """Read a still image (or a video's first frame) as ``(H, W, 3)`` uint8 BGR.

    EXIF/display orientation is applied. An image over ``limits.max_image_pixels``
    (default 2048x2048 pixels, see :mod:`lipdub.limits`) is returned downscaled to fit.

    Raises:
        MediaError: The file is missing or not a readable image.

    Example:
        >>> from lipdub.testing.media import make_portrait
        >>> import tempfile, os
        >>> read_image(make_portrait(os.path.join(tempfile.mkdtemp(), "p.png"))).shape
        (256, 256, 3)
    """
    with VideoReader(path, limits=limits) as reader:
        for frame in reader:
            return frame
    raise MediaError("holds no picture", path=path, hint="pass a PNG or JPEG image")
