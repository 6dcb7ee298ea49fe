"""Wav2Lip's audio features: the mel spectrogram and one mel window per video frame.

The Wav2Lip networks were trained on a specific 80-band mel spectrogram of 16 kHz
audio (pre-emphasis 0.97, 800-sample Hann STFT every 200 samples, Slaney mel scale
55-7600 Hz, dB, scaled to [-4, 4]); :func:`melspectrogram` computes it with numpy
alone (no librosa), matching the original to ~1e-6. That gives 80 mel columns per
second; each video frame ``i`` at ``fps`` frames per second looks at the 16 columns
(200 ms) starting at column ``int(i * 80 / fps)`` (:func:`mel_window_starts`,
:func:`mel_windows`).

Unlike the original, which stops a little before the audio ends (a 2 s clip at 25 fps
gives 47 frames), lipdub makes as many frames as cover the whole audio
(:func:`frames_for_audio`: 50 for that clip) and pads the spectrogram's last column
so the last windows are complete. :func:`original_window_starts` reproduces the
original's windows for comparison.

Example:
    >>> import numpy as np
    >>> wav = np.zeros(32000, np.float32)  # 2 s of silence at 16 kHz
    >>> mel = melspectrogram(wav)
    >>> mel.shape
    (80, 161)
    >>> frames_for_audio(2.0, 25)
    50
    >>> mel_windows(mel, 25).shape
    (50, 80, 16)
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache
from typing import Literal

import numpy as np
import numpy.typing as npt

from lipdub.errors import InputError
from lipdub.types import AudioClip
from lipdub.typing import FloatArray

__all__ = [
    "HOP_LENGTH",
    "MEL_BANDS",
    "MEL_COLUMNS_PER_S",
    "MEL_WINDOW",
    "N_FFT",
    "SAMPLE_RATE_HZ",
    "frames_for_audio",
    "mel_basis",
    "mel_from_clip",
    "mel_window_starts",
    "mel_windows",
    "melspectrogram",
    "original_window_starts",
]

#: Sample rate the networks expect.
SAMPLE_RATE_HZ = 16000
#: STFT size and window length (50 ms).
N_FFT = 800
#: STFT hop (12.5 ms): 80 mel columns per second.
HOP_LENGTH = 200
#: Mel bands.
MEL_BANDS = 80
#: Mel columns per video frame window (200 ms).
MEL_WINDOW = 16
#: Mel columns per second of audio.
MEL_COLUMNS_PER_S = SAMPLE_RATE_HZ // HOP_LENGTH

_FMIN_HZ = 55.0
_FMAX_HZ = 7600.0
_PREEMPHASIS = 0.97
_MIN_LEVEL_DB = -100.0
_REF_LEVEL_DB = 20.0
_MAX_ABS = 4.0
_CHUNK_FRAMES = 512  # STFT frames per block (6.4 s): bounds memory for long audio

PadMode = Literal["reflect", "constant"]
Fps = float | int | Fraction


# --------------------------------------------------------------------------- mel scale


# Slaney's mel scale: linear below 1 kHz (3 mels per 200 Hz), logarithmic above.
_F_SP = 200.0 / 3
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = math.log(6.4) / 27.0


def _hz_to_mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Hz to Slaney mels."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / _F_SP
    with np.errstate(divide="ignore"):
        log = _MIN_LOG_MEL + np.log(np.maximum(hz, 1e-10) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(hz >= _MIN_LOG_HZ, log, linear)


def _mel_to_hz(mel: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Slaney mels to Hz (inverse of :func:`_hz_to_mel`)."""
    mel = np.asarray(mel, dtype=np.float64)
    linear = mel * _F_SP
    log = _MIN_LOG_HZ * np.exp(_LOGSTEP * (mel - _MIN_LOG_MEL))
    return np.where(mel >= _MIN_LOG_MEL, log, linear)


@lru_cache(maxsize=4)
def _mel_basis64(
    sample_rate_hz: int, n_fft: int, n_mels: int, fmin_hz: float, fmax_hz: float
) -> npt.NDArray[np.float64]:
    fft_hz = np.linspace(0.0, sample_rate_hz / 2, 1 + n_fft // 2)
    edges_mel = np.linspace(
        _hz_to_mel(np.array(fmin_hz)), _hz_to_mel(np.array(fmax_hz)), n_mels + 2
    )
    edges_hz = _mel_to_hz(edges_mel)
    widths = np.diff(edges_hz)
    # distance of every FFT bin from every band edge
    ramps = edges_hz[:, None] - fft_hz[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    # Slaney area normalisation: each triangle has unit area in Hz
    weights *= (2.0 / (edges_hz[2:] - edges_hz[:-2]))[:, None]
    weights.flags.writeable = False
    return weights


def mel_basis(
    sample_rate_hz: int = SAMPLE_RATE_HZ,
    n_fft: int = N_FFT,
    n_mels: int = MEL_BANDS,
    fmin_hz: float = _FMIN_HZ,
    fmax_hz: float = _FMAX_HZ,
) -> FloatArray:
    """The Slaney-style triangular mel filterbank (area-normalised, htk off).

    Returns:
        ``(n_mels, 1 + n_fft // 2)`` float32 weights; row ``m`` applied to an STFT
        magnitude column gives mel band ``m``.

    Example:
        >>> mel_basis().shape
        (80, 401)
    """
    return _mel_basis64(sample_rate_hz, n_fft, n_mels, float(fmin_hz), float(fmax_hz)).astype(
        np.float32
    )


@lru_cache(maxsize=2)
def _hann(n: int) -> npt.NDArray[np.float64]:
    """Periodic Hann window (the STFT convention)."""
    w = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)
    w.flags.writeable = False
    return w


# --------------------------------------------------------------------------- spectrogram


def melspectrogram(
    wav: npt.ArrayLike, *, pad_mode: PadMode = "reflect", complex64: bool = False
) -> FloatArray:
    """Wav2Lip's normalised log-mel spectrogram of 16 kHz mono audio.

    Steps: pre-emphasis ``y[n] = x[n] - 0.97 x[n-1]``; centred STFT (800-sample
    periodic Hann window, hop 200, the signal padded by 400 samples each side);
    magnitude; 80 Slaney mel bands 55-7600 Hz; ``20 log10(max(1e-5, m)) - 20`` dB;
    scaled to ``clip(8 (dB + 100) / 100 - 4, -4, 4)``.

    Args:
        wav: ``(N,)`` float samples at 16 kHz (resample first, see
            :func:`mel_from_clip`).
        pad_mode: Edge padding of the STFT: ``"reflect"`` (what the published weights
            were trained with, librosa 0.7) or ``"constant"`` (zeros, librosa >= 0.10).
            Only the first and last two columns differ.
        complex64: Round the STFT to complex64 like librosa 0.7 did (changes values by
            ~1e-7; for bit-level comparisons only).

    Returns:
        ``(80, T)`` float32 in [-4, 4], ``T = 1 + N // 200`` (80 columns per second).

    Raises:
        InputError: empty or non-1-D input, or an unknown ``pad_mode``.
    """
    x = np.asarray(wav)
    if x.ndim != 1:
        raise InputError(f"melspectrogram needs mono (N,) samples, got shape {x.shape}")
    if x.size == 0:
        raise InputError("melspectrogram got no samples (empty audio)")
    if pad_mode not in ("reflect", "constant"):
        raise InputError(f"pad_mode must be 'reflect' or 'constant', got {pad_mode!r}")
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise InputError(f"melspectrogram needs real samples, got {x.dtype}")
    if not np.all(np.isfinite(x)):
        raise InputError("melspectrogram got NaN or infinite samples")

    # Block by block, so that long audio never has whole-signal float64 copies (the
    # pre-emphasised, padded signal of two minutes would be 3 x 15 MB at once).
    num_frames = 1 + x.size // HOP_LENGTH
    window = _hann(N_FFT)
    basis = _mel_basis64(SAMPLE_RATE_HZ, N_FFT, MEL_BANDS, _FMIN_HZ, _FMAX_HZ)
    out = np.empty((MEL_BANDS, num_frames), dtype=np.float32)
    signal = _Padded(x, reflect=pad_mode == "reflect" and x.size > 1)
    for a in range(0, num_frames, _CHUNK_FRAMES):
        b = min(num_frames, a + _CHUNK_FRAMES)
        seg = signal.span(a * HOP_LENGTH, (b - 1) * HOP_LENGTH + N_FFT)
        block = np.lib.stride_tricks.sliding_window_view(seg, N_FFT)[::HOP_LENGTH] * window
        spec = np.fft.rfft(block, axis=1)
        if complex64:
            spec = spec.astype(np.complex64)
        mel = basis @ np.abs(spec).T
        db = 20.0 * np.log10(np.maximum(1e-5, mel)) - _REF_LEVEL_DB
        norm = (2 * _MAX_ABS) * ((db - _MIN_LEVEL_DB) / -_MIN_LEVEL_DB) - _MAX_ABS
        out[:, a:b] = np.clip(norm, -_MAX_ABS, _MAX_ABS)
    return out


class _Padded:
    """The pre-emphasised signal ``y[n] = x[n] - 0.97 x[n-1]``, padded by ``N_FFT // 2``
    samples each side (reflected, or zeros), read a span at a time in float64."""

    def __init__(self, x: npt.NDArray[np.generic], *, reflect: bool) -> None:
        self.x = x
        self.reflect = reflect
        self.whole: npt.NDArray[np.float64] | None = None
        half = N_FFT // 2
        if x.size <= 2 * N_FFT:  # short: numpy's padding (it reflects more than once)
            y = self._emphasis(np.arange(x.size))
            self.whole = np.pad(y, half, mode="reflect" if reflect else "constant")

    def _emphasis(self, idx: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]:
        here = self.x[idx].astype(np.float64)
        before = self.x[np.maximum(idx - 1, 0)].astype(np.float64)
        y = here - _PREEMPHASIS * before
        first = idx == 0
        y[first] = here[first]
        return y

    def span(self, start: int, stop: int) -> npt.NDArray[np.float64]:
        """Samples ``start:stop`` of the padded signal."""
        if self.whole is not None:
            return self.whole[start:stop]
        n = self.x.size
        idx = np.arange(start, stop) - N_FFT // 2
        if self.reflect:
            idx = np.abs(idx)
            idx = np.where(idx > n - 1, 2 * (n - 1) - idx, idx)
            return self._emphasis(idx)
        inside = (idx >= 0) & (idx < n)
        y = np.zeros(idx.size, np.float64)
        y[inside] = self._emphasis(idx[inside])
        return y


def mel_from_clip(clip: AudioClip, *, pad_mode: PadMode = "reflect") -> FloatArray:
    """:func:`melspectrogram` of an :class:`~lipdub.types.AudioClip` (resampled to 16 kHz)."""
    return melspectrogram(clip.resample(SAMPLE_RATE_HZ).samples, pad_mode=pad_mode)


# --------------------------------------------------------------------------- frame <-> mel


def _fps(fps: Fps) -> Fraction:
    if isinstance(fps, float):
        if not math.isfinite(fps):
            raise InputError(f"fps must be finite, got {fps}")
        value = Fraction(fps).limit_denominator(1_000_000)
    else:
        value = Fraction(fps)
    if value <= 0:
        raise InputError(f"fps must be > 0, got {fps}")
    return value


def frames_for_audio(duration_s: float, fps: Fps) -> int:
    """How many video frames cover ``duration_s`` of audio (the last may run past it).

    ``ceil(duration_s * fps)``, with a tolerance of 1e-6 frames for float noise, so
    the video is as long as the audio to within one frame (the original Wav2Lip
    instead stops up to ~0.2 s early).

    Example:
        >>> frames_for_audio(2.0, 25), frames_for_audio(2.0, Fraction(30000, 1001))
        (50, 60)
    """
    if not math.isfinite(duration_s) or duration_s < 0:
        raise InputError(f"duration_s must be a finite number >= 0, got {duration_s}")
    x = Fraction(duration_s) * _fps(fps)
    return max(0, math.ceil(x - Fraction(1, 1_000_000)))


def mel_window_starts(
    num_frames: int, fps: Fps, *, num_columns: int | None = None
) -> npt.NDArray[np.int64]:
    """First mel column of the window of each video frame: ``int(i * 80 / fps)``.

    Args:
        num_frames: Number of video frames.
        fps: Frames per second (``Fraction(30000, 1001)`` for 29.97; floats are
            converted to the nearest fraction).
        num_columns: If given, starts are clamped to ``num_columns - 16`` (so every
            window lies inside a spectrogram of that length, like the original's tail
            window) and at 0.

    Returns:
        ``(num_frames,)`` int64 column indices (exact rational arithmetic).

    Example:
        >>> mel_window_starts(8, 25).tolist()
        [0, 3, 6, 9, 12, 16, 19, 22]
    """
    if num_frames < 0:
        raise InputError(f"num_frames must be >= 0, got {num_frames}")
    f = _fps(fps)
    i = np.arange(num_frames, dtype=np.int64)
    # floor(i * 80 / fps) = (i * 80 * den) // num, exact in integers
    starts = (i * (MEL_COLUMNS_PER_S * f.denominator)) // f.numerator
    if num_columns is not None:
        starts = np.clip(starts, 0, max(0, num_columns - MEL_WINDOW))
    return starts


def original_window_starts(num_columns: int, fps: Fps) -> npt.NDArray[np.int64]:
    """The window starts the original Wav2Lip uses for a spectrogram of ``num_columns``.

    Regular windows ``int(i * 80 / fps)`` while they fit, then one tail window of the
    last 16 columns (start ``num_columns - 16``, negative for very short audio). The
    number of starts is the number of frames the original generates.

    Example:
        >>> s = original_window_starts(161, 25)
        >>> len(s), int(s[-2]), int(s[-1])
        (47, 144, 145)
    """
    f = _fps(fps)
    if num_columns < MEL_WINDOW:
        return np.array([num_columns - MEL_WINDOW], dtype=np.int64)
    # number of i >= 0 with floor(i*80/fps) + 16 <= T, i.e. i*80/fps < T - 15
    limit = Fraction(num_columns - MEL_WINDOW + 1) * f / MEL_COLUMNS_PER_S
    regular = math.ceil(limit)
    starts = mel_window_starts(regular, f)
    return np.append(starts, num_columns - MEL_WINDOW).astype(np.int64)


def mel_windows(
    mel: npt.ArrayLike,
    fps: Fps,
    num_frames: int | None = None,
    *,
    mode: Literal["pad", "clamp"] = "pad",
) -> FloatArray:
    """The ``(80, 16)`` mel window of every video frame.

    Args:
        mel: ``(80, T)`` spectrogram from :func:`melspectrogram`.
        fps: Video frames per second.
        num_frames: Frames to cut windows for (default: the frames that cover the
            audio, :func:`frames_for_audio` of ``(T - 1) / 80`` seconds).
        mode: ``"pad"`` keeps every window at its own time and repeats the last
            column for windows that run past the end; ``"clamp"`` moves such windows
            back to the last 16 columns (the original's tail behaviour).

    Returns:
        ``(num_frames, 80, 16)`` float32 (a new array).

    Example:
        >>> import numpy as np
        >>> m = np.tile(np.arange(20, dtype=np.float32), (80, 1))
        >>> w = mel_windows(m, 25, 6)
        >>> w[5, 0].tolist()[:4], w[5, 0].tolist()[-1]
        ([16.0, 17.0, 18.0, 19.0], 19.0)
    """
    m = np.asarray(mel, dtype=np.float32)
    if m.ndim != 2 or m.shape[1] == 0:
        raise InputError(f"mel must be (bands, T) with T > 0, got shape {m.shape}")
    cols = m.shape[1]
    if num_frames is None:
        num_frames = frames_for_audio((cols - 1) / MEL_COLUMNS_PER_S, fps)
    if mode == "clamp":
        starts = mel_window_starts(num_frames, fps, num_columns=cols)
    elif mode == "pad":
        starts = mel_window_starts(num_frames, fps)
    else:
        raise InputError(f"mode must be 'pad' or 'clamp', got {mode!r}")
    need = int(starts.max()) + MEL_WINDOW if num_frames else cols
    if need > cols:
        m = np.pad(m, ((0, 0), (0, need - cols)), mode="edge")
    idx = starts[:, None] + np.arange(MEL_WINDOW)[None, :]
    return np.ascontiguousarray(m[:, idx].transpose(1, 0, 2))
