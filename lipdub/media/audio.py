"""Loading the sound of any audio or video file as a mono :class:`AudioClip`.

PyAV decodes (wav, mp3, m4a/aac, flac, ogg/vorbis/opus, or a video's audio track) and
its :class:`av.AudioResampler` converts to mono float32 at the requested rate, chunk by
chunk, in-process.
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Generator, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import av
import av.container
import numpy as np
import numpy.typing as npt

from lipdub.errors import InputError, MediaError
from lipdub.limits import Limits, resolve
from lipdub.media._open import check_exists, media_error, open_input
from lipdub.types import AudioClip
from lipdub.typing import PathLike

__all__ = ["AudioFile", "check_audio", "check_extent", "load_audio"]

logger = logging.getLogger(__name__)


def _declared_samples(stream: av.AudioStream, sample_rate_hz: int) -> int | None:
    """Samples the container says the track holds, at ``sample_rate_hz`` (None: unknown)."""
    if stream.duration and stream.time_base:
        return round(float(stream.duration * stream.time_base) * sample_rate_hz)
    return None


def _video_start_s(container: av.container.InputContainer) -> float | None:
    if not container.streams.video:
        return None
    video = container.streams.video[0]
    if video.start_time is None or video.time_base is None:
        return 0.0
    return float(video.start_time * video.time_base)


def _check_rate(rate: int, path: PathLike, limits: Limits) -> None:
    if limits.min_sample_rate_hz <= rate <= limits.max_sample_rate_hz:
        return
    side = "min" if rate < limits.min_sample_rate_hz else "max"
    raise MediaError(
        f"the audio declares a sample rate of {rate} Hz, outside the accepted "
        f"{limits.min_sample_rate_hz}-{limits.max_sample_rate_hz} Hz (a damaged or "
        "crafted header)",
        path=path,
        hint=f"re-export the audio at a normal rate (16000-48000 Hz); to accept it anyway "
        f"set {Limits.env_var(side + '_sample_rate_hz')} or pass "
        f"limits=Limits({side}_sample_rate_hz=...)",
    )


def _too_long(duration_s: float, path: PathLike, limits: Limits, why: str = "") -> MediaError:
    fix = "re-mux it with the sound at the start" if why else "cut the file into parts"
    return MediaError(
        f"the audio is {duration_s:.0f} s long{why}, over the "
        f"{limits.max_audio_duration_s:.0f} s limit on decoded audio",
        path=path,
        hint=f"{fix}; to accept it anyway set "
        f"{Limits.env_var('max_audio_duration_s')} or pass "
        "limits=Limits(max_audio_duration_s=...)",
    )


def _stream_start_s(stream: Any) -> float | None:
    if stream.start_time is None or stream.time_base is None:
        return None
    return float(stream.start_time * stream.time_base)


def _check_declared(
    container: av.container.InputContainer,
    stream: av.AudioStream,
    path: Path,
    limits: Limits,
    align_to_video: bool,
) -> float:
    """Check what the header declares against ``limits`` before anything is decoded.

    The declared sample rate, the declared length, and (aligned to a video) the lead
    of silence that the track's declared start would add: a sound track declared to
    start 10 hours after the pictures is 10 hours of padding. Returns the lead in
    seconds (0 when none is declared).

    Raises:
        MediaError: A rate outside the limits, or a clip longer than the duration limit.
    """
    declared_rate = int(stream.codec_context.sample_rate or 0) if stream.codec_context else 0
    if declared_rate:
        _check_rate(declared_rate, path, limits)
    declared_s = _declared_samples(stream, 1)
    if declared_s is None and container.duration:
        declared_s = round(float(container.duration) / av.time_base)
    if declared_s is not None and declared_s > limits.max_audio_duration_s:
        raise _too_long(declared_s, path, limits)
    lead = 0.0
    start = _stream_start_s(stream)
    video_start = _video_start_s(container) if align_to_video else None
    if start is not None and video_start is not None:
        lead = max(0.0, start - video_start)
    check_extent(lead, float(declared_s or 0), path, limits)
    return lead


def check_extent(lead_s: float, length_s: float, path: PathLike, limits: Limits) -> None:
    """Raise unless ``lead_s`` of silence then ``length_s`` of sound fit the duration limit.

    The one check of a clip's final length: before decoding (declared values) and while
    decoding (the first timestamp seen), so neither a header nor a packet can make
    :func:`load_audio` allocate hours of padding.
    """
    if not (math.isfinite(lead_s) and math.isfinite(length_s)):
        raise MediaError(
            "the audio declares a start or length that is not a finite number",
            path=path,
            hint="re-export the file; its header is damaged",
        )
    total = lead_s + length_s
    if total > limits.max_audio_duration_s:
        why = f" once aligned with the video (its sound starts {lead_s:.0f} s in)" if lead_s else ""
        raise _too_long(total, path, limits, why)


def check_audio(
    path: PathLike, *, align_to_video: bool = True, limits: Limits | None = None
) -> None:
    """Refuse ``path`` now if :func:`load_audio` would refuse it for what its header declares.

    Opens the file and reads its header only (nothing is decoded): the audio track must
    exist, and its declared sample rate, length and start (the lead of silence
    ``align_to_video`` would add) must be within ``limits``. Call it before costly work
    that needs the sound later (:func:`~lipdub.eval.evaluate_video` does).

    Raises:
        MediaError: The same errors as :func:`load_audio` raises before decoding.
    """
    lim = resolve(limits)
    p = check_exists(path)
    container = open_input(p)
    try:
        if not container.streams.audio:
            raise _no_audio(p)
        _check_declared(container, container.streams.audio[0], p, lim, align_to_video)
    finally:
        container.close()


def _no_audio(path: Path) -> MediaError:
    return MediaError(
        "has no audio track",
        path=path,
        hint="pass a file with sound, or give the speech as a separate audio file",
    )


def load_audio(
    path: PathLike,
    sample_rate_hz: int = 16000,
    *,
    align_to_video: bool = True,
    limits: Limits | None = None,
) -> AudioClip:
    """Decode the first audio track of ``path`` to mono float32 at ``sample_rate_hz``.

    Works for audio files (wav, mp3, m4a, flac, ogg, opus) and for video files (their
    audio track). Channels are mixed down to mono. Encoder padding at the end of the
    track (AAC/MP3 frames are padded to a whole frame) is trimmed to the length the
    container declares, so a clip written by :func:`~lipdub.media.write_video` reads
    back with the duration it was written with.

    In a video file whose sound starts later (or earlier) than its pictures, sample 0
    is aligned with the first video frame: leading silence is added (or the early
    sound is cut), so ``t`` seconds into the clip is ``t`` seconds into the frames.

    Args:
        path: Audio or video file.
        sample_rate_hz: Output rate in Hz (16000 is what Wav2Lip's mel features use).
        align_to_video: Align sample 0 with the first video frame (see above); False
            returns the track as stored.
        limits: Accepted declared sample rates and the longest audio decoded
            (:class:`~lipdub.limits.Limits`; default: the ``LIPDUB_*`` environment
            variables, else 4000-384000 Hz and 3 hours). Checked before decoding and
            again while decoding, so a lying header cannot exhaust memory.

    Returns:
        ``AudioClip`` with ``(N,)`` float32 samples at ``sample_rate_hz``.

    Raises:
        MediaError: The file is missing, unreadable, has no audio track, declares a
            sample rate outside the limits, or is longer than the duration limit
            (aligned to the video, the lead of silence before the sound counts: a
            track declared to start 10 hours in is refused before anything is decoded).

    Example:
        >>> from lipdub.testing.media import make_speech_wav
        >>> import tempfile, os
        >>> wav = make_speech_wav(os.path.join(tempfile.mkdtemp(), "s.wav"), 1.0, 22050)
        >>> clip = load_audio(wav, 16000)
        >>> clip.sample_rate_hz, clip.num_samples
        (16000, 16000)
    """
    rate, lim, p = _load_args(path, sample_rate_hz, limits)
    with closing(_decode(p, rate, align_to_video, lim)) as chunks:
        parts = list(chunks)
    samples = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return AudioClip(samples, rate)


def _load_args(
    path: PathLike, sample_rate_hz: int, limits: Limits | None
) -> tuple[int, Limits, Path]:
    if not isinstance(sample_rate_hz, numbers.Integral) or isinstance(sample_rate_hz, bool):
        raise InputError(
            f"sample_rate_hz must be a whole number of Hz, got {sample_rate_hz!r}", path=path
        )
    rate = int(sample_rate_hz)
    if rate <= 0:
        raise InputError(
            f"sample_rate_hz must be a positive whole number of Hz, got {sample_rate_hz!r}",
            path=path,
        )
    if limits is not None and not isinstance(limits, Limits):
        raise InputError(f"limits must be a Limits or None, got {type(limits).__name__}")
    return rate, resolve(limits), check_exists(path)


class _Trim:
    """Applies :func:`load_audio`'s two corrections to a stream of decoded chunks.

    * Encoder padding: samples past the declared length are held back; if no more than
      0.1 s of them arrive they are dropped at the end (a wrong header, with more past
      it, lets them all through).
    * Alignment: ``shift`` samples of silence first (sound that starts after the
      pictures), or the first ``-shift`` samples skipped (sound that starts before).
    """

    def __init__(self, declared: int | None, slack: int) -> None:
        self.declared = declared if declared is not None and declared > 0 else None
        self.slack = slack
        self.seen = 0  # decoded samples so far
        self.held: list[npt.NDArray[np.float32]] = []
        self.held_n = 0
        self.skip = 0
        self.lead: npt.NDArray[np.float32] | None = None

    def align(self, shift: int) -> None:
        if shift > 0:
            self.lead = np.zeros(shift, np.float32)
        else:
            self.skip = -shift

    def _out(self, chunk: npt.NDArray[np.float32]) -> Iterator[npt.NDArray[np.float32]]:
        if self.lead is not None:
            lead, self.lead = self.lead, None
            yield lead
        if self.skip:
            cut = min(self.skip, chunk.shape[0])
            chunk = chunk[cut:]
            self.skip -= cut
        if chunk.shape[0]:
            yield chunk

    def push(self, chunk: npt.NDArray[np.float32]) -> Iterator[npt.NDArray[np.float32]]:
        before, self.seen = self.seen, self.seen + chunk.shape[0]
        if self.declared is None:
            yield from self._out(chunk)
            return
        keep = max(0, min(chunk.shape[0], self.declared - before))
        if keep:
            yield from self._out(chunk[:keep])
        if keep < chunk.shape[0]:
            self.held.append(chunk[keep:])
            self.held_n += chunk.shape[0] - keep
            if self.held_n > self.slack:  # more than padding: the header was wrong
                self.declared = None
                held, self.held, self.held_n = self.held, [], 0
                for part in held:
                    yield from self._out(part)

    def finish(self) -> Iterator[npt.NDArray[np.float32]]:
        """The held-back tail is encoder padding: dropped. A lead never yielded is."""
        if self.lead is not None:
            lead, self.lead = self.lead, None
            yield lead


def _decode(
    p: Path, sample_rate_hz: int, align_to_video: bool, lim: Limits
) -> Generator[npt.NDArray[np.float32], None, None]:
    """Mono float32 chunks at ``sample_rate_hz``: :func:`load_audio`'s samples, in order."""
    container: av.container.InputContainer = open_input(p)
    try:
        if not container.streams.audio:
            raise _no_audio(p)
        stream = container.streams.audio[0]
        _check_declared(container, stream, p, lim, align_to_video)
        declared_rate = int(stream.codec_context.sample_rate or 0) if stream.codec_context else 0
        video_start_s = _video_start_s(container) if align_to_video else None
        max_out = round(lim.max_audio_duration_s * sample_rate_hz) + sample_rate_hz
        if stream.codec_context is None:  # e.g. a WAV header naming an unknown codec
            raise MediaError(
                "has an audio track in a format FFmpeg cannot decode",
                path=p,
                hint="convert it to WAV, FLAC or MP3",
            )
        # Mono and stereo are averaged here ((L + R) / 2 keeps the level of a centred
        # voice); FFmpeg's own downmix (centre-weighted) is used for surround layouts.
        channels = stream.codec_context.channels or 1
        own_mix = channels <= 2
        resampler = av.AudioResampler(
            format="fltp", layout=None if own_mix else "mono", rate=sample_rate_hz
        )
        # Only what looks like encoder padding (< 0.1 s) past the declared end is cut.
        trim = _Trim(_declared_samples(stream, sample_rate_hz), sample_rate_hz // 10)
        first_s: float | None = None
        lead_s = 0.0
        decoded_s = 0.0
        held = 0
        try:
            for frame in container.decode(stream):
                if first_s is None and frame.time is not None:
                    first_s = float(frame.time)
                    if video_start_s is not None:  # the padding this start would add
                        lead_s = max(0.0, first_s - video_start_s)
                        shift = round((first_s - video_start_s) * sample_rate_hz)
                        if shift > 0:
                            logger.debug("%s: sound starts %.3f s after the video", p, first_s)
                        trim.align(shift)
                rate = int(frame.sample_rate or declared_rate or 0)
                if rate and rate != declared_rate:
                    _check_rate(rate, p, lim)
                decoded_s += frame.samples / rate if rate else 0.0
                check_extent(lead_s, decoded_s, p, lim)
                frame.pts = None  # resample by count; gaps in timestamps are not inserted
                for out in resampler.resample(frame):
                    mono = out.to_ndarray().mean(axis=0, dtype=np.float32)
                    held += mono.shape[0]
                    yield from trim.push(mono)
                if held > max_out:
                    raise _too_long(held / sample_rate_hz, p, lim)
            for out in resampler.resample(None):
                yield from trim.push(out.to_ndarray().mean(axis=0, dtype=np.float32))
        except (av.FFmpegError, OSError) as e:
            raise media_error(p, "decoding the audio failed", e) from e
        yield from trim.finish()
    finally:
        container.close()


class AudioFile:
    """A file's sound track, decoded chunk by chunk when it is read: never held whole.

    What :class:`~lipdub.media.VideoWriter` muxes from a file without holding hours of
    samples: :meth:`chunks` yields exactly the samples :func:`load_audio` would return
    (the same alignment, trimming and limits), ``pad_to_s`` seconds of silence added at
    the end if the sound is shorter. The header is checked when the object is made.

    Example:
        >>> from lipdub.testing.media import make_speech_wav
        >>> import tempfile, os
        >>> wav = make_speech_wav(os.path.join(tempfile.mkdtemp(), "s.wav"), 1.0, 22050)
        >>> sound = AudioFile(wav, 48000, pad_to_s=1.5)
        >>> sum(len(c) for c in sound.chunks())
        72000
    """

    def __init__(
        self,
        path: PathLike,
        sample_rate_hz: int = 48000,
        *,
        align_to_video: bool = True,
        limits: Limits | None = None,
        pad_to_s: float = 0.0,
    ) -> None:
        self.sample_rate_hz, self._limits, self.path = _load_args(path, sample_rate_hz, limits)
        if not (math.isfinite(pad_to_s) and pad_to_s >= 0):
            raise InputError(f"pad_to_s must be a finite number >= 0, got {pad_to_s!r}")
        self.align_to_video = bool(align_to_video)
        self.pad_to_s = float(pad_to_s)
        check_audio(self.path, align_to_video=self.align_to_video, limits=self._limits)

    def chunks(self) -> Iterator[npt.NDArray[np.float32]]:
        """The samples, mono float32 at :attr:`sample_rate_hz`, in order (a fresh decode)."""
        n = 0
        with closing(
            _decode(self.path, self.sample_rate_hz, self.align_to_video, self._limits)
        ) as it:
            for chunk in it:
                n += chunk.shape[0]
                yield chunk
        short = round(self.pad_to_s * self.sample_rate_hz) - n
        if short > 0:
            yield np.zeros(short, np.float32)
