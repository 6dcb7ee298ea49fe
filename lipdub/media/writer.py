"""Writing MP4s (H.264 + AAC) and swapping an MP4's audio track, with PyAV.

Outputs are written atomically: to a temporary file beside the target, renamed into
place only when complete (:func:`lipdub._io.atomic_path`). An exception while writing
removes the temporary file and leaves the target untouched.

Odd frame sizes: H.264 in ``yuv420p`` (the pixel format every player supports) needs
even width and height, so a frame with an odd side is padded by one pixel, repeating
its last row/column; :attr:`VideoWriter.encoded_size` reports the size written. Pass
``pix_fmt="yuv444p"`` to keep odd sizes exactly (fewer players can show it).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import av
import av.container
import numpy as np
import numpy.typing as npt

from lipdub._checks import (
    bool_arg,
    describe,
    fps_arg,
    instance_arg,
    int_arg,
    path_arg,
    str_arg,
)
from lipdub._io import atomic_path
from lipdub.errors import InputError, MediaError
from lipdub.media._open import check_exists, media_error, open_input
from lipdub.media.audio import AudioFile
from lipdub.media.look import VideoLook
from lipdub.media.reader import ACCURATE
from lipdub.types import AudioClip
from lipdub.typing import PathLike

__all__ = ["AUDIO_SUFFIXES", "VideoWriter", "mux_audio", "write_audio", "write_video"]

logger = logging.getLogger(__name__)

#: Sample rates FFmpeg's AAC encoder accepts; other rates are resampled to 48 kHz.
AAC_RATES = frozenset(
    {7350, 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000}
)
_AAC_FRAME = 1024
_MP4_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".m4a", ".3gp"})
_EVEN_FORMATS = frozenset({"yuv420p", "yuv422p", "nv12", "yuvj420p", "yuv420p10le"})


def _aac_ready(audio: AudioClip) -> AudioClip:
    return audio if audio.sample_rate_hz in AAC_RATES else audio.resample(48000)


class _AudioTrack:
    """Encodes a sound track as AAC into an output container, on demand.

    The sound is an :class:`AudioClip` or an :class:`~lipdub.media.audio.AudioFile`,
    which is decoded only as far as the video has got: a long track is never held whole.
    ``encode_until(t)`` writes whole AAC frames up to ``t`` seconds so audio packets
    interleave with video; ``finish()`` writes the rest, the last frame short, so the
    track's declared duration is the sound's exact length.
    """

    def __init__(
        self, container: av.container.OutputContainer, audio: AudioClip | AudioFile
    ) -> None:
        if isinstance(audio, AudioClip):
            clip = _aac_ready(audio)
            self.rate = clip.sample_rate_hz
            self._source: Iterator[npt.NDArray[np.float32]] = iter((clip.samples,))
        else:
            self.rate = audio.sample_rate_hz
            self._source = audio.chunks()
        self.container = container
        self.stream: Any = container.add_stream("aac", rate=self.rate, layout="mono")
        self.stream.bit_rate = 128_000
        self.pos = 0
        self._buffer: list[npt.NDArray[np.float32]] = []
        self._buffered = 0
        self._ended = False

    def _encode(self, chunk: npt.NDArray[np.float32] | None) -> None:
        if chunk is None:
            packets = self.stream.encode(None)
        else:
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(chunk[None, :]), format="fltp", layout="mono"
            )
            frame.sample_rate = self.rate
            frame.pts = self.pos
            frame.time_base = Fraction(1, self.rate)
            packets = self.stream.encode(frame)
        for packet in packets:
            self.container.mux(packet)
        if chunk is not None:
            self.pos += chunk.shape[0]

    def _fill(self, want: int) -> None:
        """Read from the source until ``want`` samples are buffered or it ends."""
        while self._buffered < want and not self._ended:
            chunk = next(self._source, None)
            if chunk is None:
                self._ended = True
            elif chunk.shape[0]:
                self._buffer.append(chunk)
                self._buffered += chunk.shape[0]

    def _take(self, n: int) -> npt.NDArray[np.float32]:
        """The next ``n`` buffered samples (fewer at the end of the sound)."""
        joined = self._buffer[0] if len(self._buffer) == 1 else np.concatenate(self._buffer)
        out, rest = joined[:n], joined[n:]
        self._buffer = [rest] if rest.shape[0] else []
        self._buffered = rest.shape[0]
        return out

    def encode_until(self, t_s: float) -> None:
        stop = round(t_s * self.rate)
        while stop - self.pos >= _AAC_FRAME:
            self._fill(_AAC_FRAME)
            if self._buffered < _AAC_FRAME:
                return  # the sound ends before t_s: finish() writes its short last frame
            self._encode(self._take(_AAC_FRAME))

    def finish(self) -> None:
        while True:
            self._fill(_AAC_FRAME)
            if not self._buffered:
                break
            self._encode(self._take(_AAC_FRAME))
        self._encode(None)


def _even(n: int) -> int:
    return n + (n & 1)


class VideoWriter:
    """Encodes ``(H, W, 3)`` uint8 BGR frames (+ optional audio) to an MP4 file.

    Video is H.264 (``libx264``) in ``yuv420p`` at a constant rate; audio is AAC mono
    at the clip's rate (resampled to 48 kHz if AAC cannot take it). The file appears at
    ``path`` only when the writer closes cleanly; on an exception inside the ``with``
    block the partial file is deleted.

    Args:
        path: Output file (``.mp4``; ``.mov``/``.mkv`` also work).
        fps: Frame rate (exact ``Fraction(30000, 1001)`` for 29.97).
        width: Frame width in pixels (every frame must have it).
        height: Frame height in pixels.
        audio: Sound track; written in full even if longer or shorter than the video.
            An :class:`~lipdub.media.audio.AudioFile` is decoded as the video goes,
            never held whole.
        crf: x264 constant rate factor, 0 (lossless) to 51; 18 is visually lossless.
        preset: x264 speed/size trade-off (``"ultrafast"`` ... ``"medium"`` ...
            ``"veryslow"``).
        codec: FFmpeg video encoder name.
        pix_fmt: Encoded pixel format; ``yuv420p`` needs even sizes (odd ones are
            padded by one repeated pixel row/column, see :attr:`encoded_size`).
        rotation: Clockwise display rotation to record in the file (0/90/180/270);
            frames are stored as given and players (and :class:`VideoReader`) turn
            them on display.
        faststart: Put the MP4 index first so playback can start while downloading.
        look: Show the output as an input was shown (a
            :class:`~lipdub.media.look.VideoLook`, e.g. ``VideoLook.of(input)``): its
            pixel aspect ratio, display rotation, colour range, primaries, transfer and
            YUV matrix. Frames are then given *upright* (as :class:`VideoReader`
            delivers them, ``width`` x ``height`` upright) and stored turned back the
            way the input stored them, under the input's display matrix. Not
            together with ``rotation``.

    Raises:
        InputError: A frame has the wrong size or dtype, or no frame was written.
        MediaError: The output cannot be written.

    Example:
        >>> import numpy as np, tempfile, os
        >>> out = os.path.join(tempfile.mkdtemp(), "grey.mp4")
        >>> with VideoWriter(out, fps=25, width=64, height=48) as w:
        ...     for _ in range(5):
        ...         w.write(np.full((48, 64, 3), 128, np.uint8))
        >>> from lipdub.media import probe
        >>> probe(out).frame_count
        5
    """

    def __init__(
        self,
        path: PathLike,
        *,
        fps: Fraction | float | int,
        width: int,
        height: int,
        audio: AudioClip | AudioFile | None = None,
        crf: int = 18,
        preset: str = "medium",
        codec: str = "libx264",
        pix_fmt: str = "yuv420p",
        rotation: int = 0,
        faststart: bool = True,
        look: VideoLook | None = None,
    ) -> None:
        self.path = path_arg(path, "path")
        fps = fps_arg(fps)
        int_arg(width, "width", low=1)
        int_arg(height, "height", low=1)
        int_arg(crf, "crf", low=0, high=51)
        int_arg(rotation, "rotation")
        for text, label in ((preset, "preset"), (codec, "codec"), (pix_fmt, "pix_fmt")):
            str_arg(text, label, empty=False)
        bool_arg(faststart, "faststart")
        if audio is not None:
            instance_arg(audio, "audio", (AudioClip, AudioFile), "an AudioClip, AudioFile or None")
        if isinstance(audio, AudioFile) and audio.sample_rate_hz not in AAC_RATES:
            raise InputError(
                f"an AudioFile to mux must be read at an AAC rate, got {audio.sample_rate_hz} Hz",
                hint="read it at 48000 Hz",
            )
        if look is not None:
            instance_arg(look, "look", VideoLook, "a VideoLook or None")
        if look is not None and rotation:
            raise InputError(
                "give rotation or look, not both", hint="look carries the input's rotation"
            )
        if rotation % 90:
            raise InputError(f"rotation must be a multiple of 90, got {rotation}")
        self.fps = fps
        self.width, self.height = int(width), int(height)
        self.look = look if look is not None and not look.is_default else None
        #: Quarter turns that store an upright frame the way the input stored it.
        self._turns = (self.look.rotation // 90) if self.look is not None else 0
        stored = (self.height, self.width) if self._turns % 2 else (self.width, self.height)
        pad = pix_fmt in _EVEN_FORMATS
        self.encoded_size = (_even(stored[0]), _even(stored[1])) if pad else stored
        self.frames_written = 0
        self._closed = False
        self._atomic = atomic_path(self.path)
        tmp = self._atomic.__enter__()
        try:
            mp4_like = self.path.suffix.lower() in _MP4_SUFFIXES
            options = {"movflags": "+faststart"} if faststart and mp4_like else {}
            self._container: Any = av.open(str(tmp), mode="w", options=options)
            stream: Any = self._container.add_stream(codec, rate=self.fps)
            stream.width, stream.height = self.encoded_size
            stream.pix_fmt = pix_fmt
            stream.time_base = Fraction(1, 1) / self.fps
            if codec in ("libx264", "libx265"):
                stream.options = {"crf": str(crf), "preset": preset}
                # x264's frame threads give the same bytes for the same frames; its sliced
                # threads (PyAV's default) now and then do not, and a resumed dub must
                stream.thread_type = "FRAME"
            shown = self.look.rotation if self.look is not None else rotation
            if shown % 360:
                # PyAV takes the counter-clockwise angle (display-matrix convention).
                stream.set_display_rotation((-shown) % 360)
            if self.look is not None:
                self.look.tag(stream.codec_context)
            self._convert: dict[str, Any] = {"format": pix_fmt, "interpolation": ACCURATE}
            if self.look is not None:
                if self.look.sws_matrix() is not None:
                    self._convert["dst_colorspace"] = self.look.sws_matrix()
                if self.look.color_range:
                    self._convert["dst_color_range"] = self.look.color_range
            self._video = stream
            self._audio = _AudioTrack(self._container, audio) if audio is not None else None
        except BaseException as e:
            self._abort(type(e), e, e.__traceback__)
            if isinstance(e, (av.FFmpegError, OSError)):
                raise media_error(
                    self.path,
                    "cannot create the output video",
                    e,
                    hint="check the folder is writable and the codec name",
                ) from e
            raise

    # -------------------------------------------------------------- writing
    def write(self, frame: npt.NDArray[np.uint8]) -> None:
        """Append one ``(height, width, 3)`` uint8 BGR frame."""
        if self._closed:
            raise InputError("VideoWriter is closed", path=self.path)
        if not isinstance(frame, np.ndarray):
            raise InputError(
                f"frame must be a ({self.height}, {self.width}, 3) uint8 BGR array, "
                f"got {describe(frame)}",
                path=self.path,
            )
        if frame.dtype != np.uint8 or frame.shape != (self.height, self.width, 3):
            raise InputError(
                f"frame must be ({self.height}, {self.width}, 3) uint8 BGR, "
                f"got {frame.shape} {frame.dtype}",
                path=self.path,
            )
        if self._turns:
            # the reader turned the input's frames upright (np.rot90 by -turns); undo it
            frame = np.rot90(frame, k=self._turns)
        ew, eh = self.encoded_size
        sh, sw = frame.shape[:2]
        if (ew, eh) != (sw, sh):
            frame = np.pad(frame, ((0, eh - sh), (0, ew - sw), (0, 0)), mode="edge")
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="bgr24")
        vf = vf.reformat(**self._convert)
        vf.pts = self.frames_written
        for packet in self._video.encode(vf):
            self._container.mux(packet)
        self.frames_written += 1
        if self._audio is not None:
            self._audio.encode_until(float(self.frames_written / self.fps))

    def write_many(self, frames: Iterable[npt.NDArray[np.uint8]]) -> None:
        """Append every frame of ``frames``."""
        for frame in frames:
            self.write(frame)

    # -------------------------------------------------------------- closing
    def close(self) -> Path:
        """Finish encoding and move the file into place; returns the final path."""
        if self._closed:
            return self.path
        if self.frames_written == 0:
            err = InputError("no frames were written; nothing to save", path=self.path)
            self._abort(type(err), err, None)
            raise err
        try:
            for packet in self._video.encode(None):
                self._container.mux(packet)
            if self._audio is not None:
                self._audio.finish()
            self._container.close()
        except BaseException as e:
            self._abort(type(e), e, e.__traceback__)
            if isinstance(e, (av.FFmpegError, OSError)):
                raise media_error(
                    self.path,
                    "writing the video failed",
                    e,
                    hint="check free disk space and that the folder is writable",
                ) from e
            raise
        self._closed = True
        self._atomic.__exit__(None, None, None)
        logger.debug("wrote %s: %d frames", self.path, self.frames_written)
        return self.path

    def _abort(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Drop the partial output: close the container, delete the temporary file."""
        self._closed = True
        container = getattr(self, "_container", None)
        if container is not None:
            with contextlib.suppress(Exception):
                container.close()
        with contextlib.suppress(BaseException):
            self._atomic.__exit__(exc_type or RuntimeError, exc or RuntimeError("aborted"), tb)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            if not self._closed:
                self._abort(exc_type, exc, tb)
            return
        self.close()


def write_video(
    path: PathLike,
    frames: Iterable[npt.NDArray[np.uint8]],
    *,
    fps: Fraction | float | int,
    audio: AudioClip | None = None,
    **opts: Any,
) -> Path:
    """Encode ``frames`` (``(H, W, 3)`` uint8 BGR, all one size) to an MP4 at ``path``.

    The size comes from the first frame; ``opts`` go to :class:`VideoWriter` (``crf``,
    ``preset``, ``codec``, ``pix_fmt``, ``rotation``, ``faststart``, ``look``). Frames are
    consumed lazily, so a generator of any length works in constant memory.

    Returns:
        ``path`` as a :class:`~pathlib.Path`, once the file is complete.

    Raises:
        InputError: No frames, or frames of different sizes.
    """
    out = path_arg(path, "path")
    if not isinstance(frames, Iterable) or isinstance(frames, (str, bytes)):
        raise InputError(f"frames must be an iterable of frames, got {describe(frames)}")
    it: Iterator[npt.NDArray[np.uint8]] = iter(frames)
    empty = object()
    first: Any = next(it, empty)
    if first is empty:
        raise InputError("write_video got no frames", path=out)
    if not isinstance(first, np.ndarray) or first.ndim != 3:
        raise InputError(
            f"frames must be (H, W, 3) uint8 BGR arrays, the first is {describe(first)}",
            path=out,
        )
    h, w = first.shape[:2]
    with VideoWriter(path, fps=fps, width=w, height=h, audio=audio, **opts) as writer:
        writer.write(first)
        writer.write_many(it)
    return Path(path)


def mux_audio(video_path: PathLike, audio: AudioClip, out_path: PathLike) -> Path:
    """Copy ``video_path``'s video track (no re-encoding) with ``audio`` as its sound.

    Any audio track of the input is dropped; ``audio`` is encoded as AAC and written in
    full. ``out_path`` may equal ``video_path`` (the file is replaced atomically).

    Returns:
        ``out_path`` as a :class:`~pathlib.Path`.

    Raises:
        MediaError: The input is unreadable or has no video track.
    """
    path_arg(video_path, "video_path")
    instance_arg(audio, "audio", AudioClip, "an AudioClip")
    out = path_arg(out_path, "out_path")
    src = check_exists(video_path, "video_path")
    inp = open_input(src)
    try:
        if not inp.streams.video:
            raise MediaError(
                "has no video track to put the audio on", path=src, hint="pass an MP4 video"
            )
        vin = inp.streams.video[0]
        try:
            with atomic_path(out) as tmp:
                mp4_like = out.suffix.lower() in _MP4_SUFFIXES
                options = {"movflags": "+faststart"} if mp4_like else {}
                container: Any = av.open(str(tmp), mode="w", options=options)
                try:
                    vout = container.add_stream_from_template(vin)
                    track = _AudioTrack(container, audio)
                    for packet in inp.demux(vin):
                        if packet.size == 0:  # the demuxer's end-of-stream marker
                            continue
                        if packet.pts is not None and packet.time_base is not None:
                            track.encode_until(float(packet.pts * packet.time_base))
                        packet.stream = vout
                        container.mux(packet)
                    track.finish()
                finally:
                    container.close()
        except (av.FFmpegError, OSError) as e:
            raise media_error(
                out,
                "cannot write the video with the new audio",
                e,
                hint="check the input is an MP4 with H.264 video and the folder is writable",
            ) from e
    finally:
        inp.close()
    return out


#: Encoder (and channel layout) per audio file suffix for :func:`write_audio`.
_AUDIO_CODECS: dict[str, tuple[str, str]] = {
    ".wav": ("pcm_s16le", "mono"),
    ".flac": ("flac", "mono"),
    ".mp3": ("libmp3lame", "mono"),
    ".m4a": ("aac", "mono"),
    ".aac": ("aac", "mono"),
    ".ogg": ("vorbis", "stereo"),  # FFmpeg's own Vorbis encoder takes stereo only
    ".opus": ("libopus", "mono"),
}

#: The file suffixes :func:`write_audio` can write.
AUDIO_SUFFIXES: tuple[str, ...] = tuple(sorted(_AUDIO_CODECS))


def write_audio(path: PathLike, audio: AudioClip) -> Path:
    """Encode ``audio`` to an audio file chosen by suffix, atomically; return the path.

    Suffixes: ``.wav`` (16-bit PCM), ``.flac``, ``.mp3``, ``.m4a``/``.aac`` (AAC),
    ``.ogg`` (Vorbis), ``.opus`` (Opus, resampled to 48 kHz). The sample rate is kept
    where the codec allows it.

    Raises:
        InputError: An unsupported suffix.
        MediaError: The file cannot be written.

    Example:
        >>> import tempfile, os
        >>> from lipdub.media import load_audio
        >>> p = write_audio(os.path.join(tempfile.mkdtemp(), "a.flac"),
        ...                 AudioClip.silence(0.5, 16000))
        >>> load_audio(p, 16000).num_samples
        8000
    """
    out = path_arg(path, "path")
    instance_arg(audio, "audio", AudioClip, "an AudioClip")
    suffix = out.suffix.lower()
    if suffix not in _AUDIO_CODECS:
        raise InputError(
            f"cannot write audio as {suffix or 'a file without suffix'}",
            path=out,
            hint=f"use one of {', '.join(sorted(_AUDIO_CODECS))}",
        )
    codec, layout = _AUDIO_CODECS[suffix]
    if codec == "aac":
        audio = _aac_ready(audio)
    elif codec == "libopus" and audio.sample_rate_hz != 48000:
        audio = audio.resample(48000)
    elif codec == "libmp3lame" and audio.sample_rate_hz not in (
        8000,
        11025,
        12000,
        16000,
        22050,
        24000,
        32000,
        44100,
        48000,
    ):
        audio = audio.resample(44100)
    rate = audio.sample_rate_hz
    channels = 2 if layout == "stereo" else 1
    try:
        with atomic_path(out) as tmp:
            container: Any = av.open(str(tmp), mode="w")
            try:
                options = {"strict": "experimental"} if codec == "vorbis" else {}
                stream: Any = container.add_stream(codec, rate=rate, layout=layout, options=options)
                fmt = "s16" if codec == "pcm_s16le" else "fltp"
                step = 4096
                for start in range(0, audio.num_samples, step):
                    chunk = audio.samples[start : start + step]
                    data: npt.NDArray[Any]
                    if fmt == "s16":
                        data = AudioClip(chunk, rate).to_int16()[None, :]
                    else:
                        data = np.repeat(chunk[None, :], channels, axis=0)
                    frame = av.AudioFrame.from_ndarray(
                        np.ascontiguousarray(data), format=fmt, layout=layout
                    )
                    frame.sample_rate = rate
                    frame.pts = start
                    frame.time_base = Fraction(1, rate)
                    for packet in stream.encode(frame):
                        container.mux(packet)
                for packet in stream.encode(None):
                    container.mux(packet)
            finally:
                container.close()
    except (av.FFmpegError, OSError) as e:
        raise media_error(
            out, "cannot write the audio file", e, hint="check the folder is writable"
        ) from e
    return out
