"""What a voice sounds like, measured: its median pitch and its long-term spectrum.

Plain numpy/scipy signal measures, used by the reference-matched voice
(:mod:`lipdub.voice.match`) to move synthetic speech towards a reference, and by tests
and benchmarks to check that each dubbed speaker sounds like their own reference:

* :func:`median_f0`: the median fundamental frequency of the voiced frames (a
  normalised-autocorrelation pitch tracker, 60-400 Hz);
* :func:`long_term_spectrum`: the average level of the loud frames in mel-spaced bands
  (the voice's timbre, loudness-neutral after :func:`spectrum_shape`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from lipdub.types import AudioClip

__all__ = ["f0_track", "long_term_spectrum", "median_f0", "spectrum_shape"]

FloatArray = npt.NDArray[np.float64]

_RATE = 16000  # every measure works on 16 kHz audio
_FRAME = 640  # 40 ms
_HOP = 160  # 10 ms


def _frames(x: npt.NDArray[np.floating], frame: int, hop: int) -> FloatArray:
    if x.size < frame:
        return np.zeros((0, frame))
    n = 1 + (x.size - frame) // hop
    idx = np.arange(frame)[None, :] + hop * np.arange(n)[:, None]
    return np.asarray(x[idx], np.float64)


def f0_track(
    clip: AudioClip,
    *,
    fmin_hz: float = 60.0,
    fmax_hz: float = 400.0,
    voicing: float = 0.5,
    floor_db: float = -35.0,
) -> FloatArray:
    """The fundamental frequency (Hz) of each voiced 40 ms frame (10 ms hop).

    A frame is voiced when it is within ``floor_db`` of the clip's loud frames and its
    normalised autocorrelation peaks above ``voicing`` at a lag in the pitch range;
    the shortest lag within 90 % of the best peak is taken (fewer octave-down errors).

    Example:
        >>> t = np.arange(16000) / 16000
        >>> tone = AudioClip((0.5 * np.sign(np.sin(2 * np.pi * 150 * t))).astype(np.float32), 16000)
        >>> round(float(np.median(f0_track(tone))))
        150
    """
    x = clip.resample(_RATE).samples
    frames = _frames(x, _FRAME, _HOP)
    if not len(frames):
        return np.zeros(0)
    frames = frames - frames.mean(axis=1, keepdims=True)
    energy = np.sqrt((frames**2).mean(axis=1)) + 1e-9
    loud = energy >= np.percentile(energy, 95) * 10 ** (floor_db / 20)
    frames = frames[loud] * np.hanning(_FRAME)[None, :]
    if not len(frames):
        return np.zeros(0)
    spec = np.fft.rfft(frames, n=2 * _FRAME, axis=1)
    ac = np.fft.irfft(np.abs(spec) ** 2, axis=1)[:, :_FRAME]
    # undo the window's own taper of the autocorrelation, then normalise by lag 0
    win_ac = np.fft.irfft(np.abs(np.fft.rfft(np.hanning(_FRAME), n=2 * _FRAME)) ** 2)[:_FRAME]
    ac = ac / np.maximum(win_ac[None, :], 1e-9 * win_ac[0])
    ac = ac / np.maximum(ac[:, :1], 1e-12)
    lo, hi = int(_RATE / fmax_hz), int(np.ceil(_RATE / fmin_hz))
    part = ac[:, lo : hi + 1]
    best = part.max(axis=1)
    first = np.argmax(part >= 0.9 * best[:, None], axis=1)
    # climb from the first lag near the best to the top of its own peak
    cols = np.arange(part.shape[1])[None, :]
    reach = first[:, None] + (first[:, None] + lo) // 4 + 2
    near = np.where((cols >= first[:, None]) & (cols <= reach), part, -np.inf)
    peak = np.argmax(near, axis=1)
    voiced = best >= voicing
    # parabolic refinement of the peak
    i = np.clip(peak, 1, part.shape[1] - 2)
    rows = np.arange(len(part))
    a, b, c = part[rows, i - 1], part[rows, i], part[rows, i + 1]
    denom = a - 2 * b + c
    safe = np.where(np.abs(denom) > 1e-12, denom, 1.0)
    shift = np.where(np.abs(denom) > 1e-12, 0.5 * (a - c) / safe, 0.0)
    lags = np.where(peak == i, i + lo + np.clip(shift, -0.5, 0.5), peak + lo)
    return np.asarray(_RATE / lags[voiced], np.float64)


def median_f0(clip: AudioClip, *, min_frames: int = 10) -> float | None:
    """The median pitch (Hz) of the voiced frames, or None with fewer than ``min_frames``."""
    f0 = f0_track(clip)
    return float(np.median(f0)) if f0.size >= min_frames else None


def _mel(hz: FloatArray | float) -> FloatArray:
    return np.asarray(2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0), np.float64)


def _band_edges(bands: int, fmax_hz: float) -> FloatArray:
    m = np.linspace(_mel(80.0), _mel(fmax_hz), bands + 1)
    return np.asarray(700.0 * (10 ** (m / 2595.0) - 1.0), np.float64)


def long_term_spectrum(
    clip: AudioClip, *, bands: int = 24, fmax_hz: float = 7600.0, floor_db: float = -30.0
) -> tuple[FloatArray, FloatArray]:
    """Band centres (Hz) and the mean level (dB) of the loud frames in each band.

    Example:
        >>> t = np.arange(16000) / 16000
        >>> low = AudioClip((0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), 16000)
        >>> centres, level = long_term_spectrum(low)
        >>> bool(level[0] > level[-1] + 40)
        True
    """
    x = clip.resample(_RATE).samples
    frames = _frames(x, 512, 256)
    edges = _band_edges(bands, fmax_hz)
    centres = np.sqrt(edges[:-1] * edges[1:])
    if not len(frames):
        return centres, np.full(bands, -120.0)
    energy = np.sqrt((frames**2).mean(axis=1)) + 1e-9
    loud = energy >= np.percentile(energy, 95) * 10 ** (floor_db / 20)
    power = (np.abs(np.fft.rfft(frames[loud] * np.hanning(512), axis=1)) ** 2).mean(axis=0)
    freqs = np.fft.rfftfreq(512, 1.0 / _RATE)
    level = np.empty(bands)
    for k in range(bands):
        inside = (freqs >= edges[k]) & (freqs < edges[k + 1])
        if not inside.any():  # a band narrower than a bin: the nearest bin
            inside = np.abs(freqs - centres[k]) == np.abs(freqs - centres[k]).min()
        level[k] = 10 * np.log10(power[inside].mean() + 1e-12)
    return centres, level


def spectrum_shape(level_db: FloatArray) -> FloatArray:
    """A long-term spectrum with its mean removed: timbre without loudness."""
    return np.asarray(level_db - level_db.mean(), np.float64)
