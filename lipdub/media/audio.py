"""Loading the sound of any audio or video file as a mono :class:`AudioClip`.

PyAV decodes (wav, mp3, m4a/aac, flac, ogg/vorbis/opus, or a video's audio track) and
its :class:`av.AudioResampler` converts to mono float32 at the requested rate, chunk by
chunk, in-process.
"""

from __future__ import annotations

import logging

import av
import av.container
import numpy as np

from lipdub.errors import MediaError
from lipdub.media._open import PathLike, check_exists, media_error, open_input
from lipdub.types import AudioClip

__all__ = ["load_audio"]

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


def load_audio(
    path: PathLike, sample_rate_hz: int = 16000, *, align_to_video: bool = True
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

    Returns:
        ``AudioClip`` with ``(N,)`` float32 samples at ``sample_rate_hz``.

    Raises:
        MediaError: The file is missing, unreadable, or has no audio track.

    Example:
        >>> from lipdub.testing.media import make_speech_wav
        >>> import tempfile, os
        >>> wav = make_speech_wav(os.path.join(tempfile.mkdtemp(), "s.wav"), 1.0, 22050)
        >>> clip = load_audio(wav, 16000)
        >>> clip.sample_rate_hz, clip.num_samples
        (16000, 16000)
    """
    if sample_rate_hz <= 0:
        raise MediaError(f"sample_rate_hz must be > 0, got {sample_rate_hz}", path=path)
    p = check_exists(path)
    container: av.container.InputContainer = open_input(p)
    try:
        if not container.streams.audio:
            raise MediaError(
                "has no audio track",
                path=p,
                hint="pass a file with sound, or give the speech as a separate audio file",
            )
        stream = container.streams.audio[0]
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
        chunks: list[np.ndarray] = []
        first_s: float | None = None
        try:
            for frame in container.decode(stream):
                if first_s is None and frame.time is not None:
                    first_s = float(frame.time)
                frame.pts = None  # resample by count; gaps in timestamps are not inserted
                chunks.extend(out.to_ndarray().mean(axis=0) for out in resampler.resample(frame))
            chunks.extend(out.to_ndarray().mean(axis=0) for out in resampler.resample(None))
        except (av.FFmpegError, OSError) as e:
            raise media_error(p, "decoding the audio failed", e) from e
        declared = _declared_samples(stream, sample_rate_hz)
        video_start_s = _video_start_s(container) if align_to_video else None
    finally:
        container.close()
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    # Only trim what looks like encoder padding (< 0.1 s); a wrong header is ignored.
    if declared is not None and 0 < declared < samples.shape[0] <= declared + sample_rate_hz // 10:
        samples = samples[:declared]
    if video_start_s is not None and first_s is not None:
        shift = round((first_s - video_start_s) * sample_rate_hz)
        if shift > 0:
            logger.debug("%s: sound starts %.3f s after the video; padding", p, first_s)
            samples = np.concatenate([np.zeros(shift, np.float32), samples])
        elif shift < 0:
            samples = samples[-shift:]
    return AudioClip(samples, sample_rate_hz)
