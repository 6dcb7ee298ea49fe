"""Kaldi's log-mel filterbank ("fbank") features, in numpy.

The features speaker encoders trained with Kaldi-style front ends expect (CAM++ among
them): 25 ms frames every 10 ms, only whole frames (Kaldi's ``snip_edges``), each frame
with its mean removed, pre-emphasised (0.97, the first sample against itself) and
weighted by Povey's window (a Hann window to the power 0.85), zero-padded to a power of
two for the FFT; the power spectrum through triangular filters evenly spaced on Kaldi's
mel scale (``1127 ln(1 + f / 700)``) from 20 Hz to the Nyquist frequency; the log floored
at float32's epsilon. No dither, no energy column. Computed in float64 and returned as
float32; Kaldi's own float32 arithmetic agrees to about 1e-4 on real speech.

Every frame depends only on its own 400 samples, so the features of a stretch that
starts on a 10 ms boundary are a slice of the whole recording's.

Example:
    >>> import numpy as np
    >>> feats = fbank(np.zeros(16000, np.float32))
    >>> feats.shape, float(feats.max()) == float(np.log(np.finfo(np.float32).eps))
    ((98, 80), True)
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from lipdub.errors import InputError

__all__ = ["fbank", "fbank_frames"]

_RATE, _WIN, _HOP, _NFFT = 16000, 400, 160, 512
_LOW_HZ, _PREEMPH, _POVEY = 20.0, 0.97, 0.85
_FLOOR = float(np.finfo(np.float32).eps)
_BLOCK = 2000  # frames computed at once (20 s)
_BANKS: dict[int, npt.NDArray[np.float64]] = {}


def _kaldi_mel(hz: npt.ArrayLike) -> npt.NDArray[np.float64]:
    return np.asarray(1127.0 * np.log1p(np.asarray(hz, np.float64) / 700.0))


def _banks(bands: int) -> npt.NDArray[np.float64]:
    """``(bands, NFFT / 2)`` triangular weights (the Nyquist bin always weighs 0)."""
    if bands not in _BANKS:
        lo, hi = _kaldi_mel(_LOW_HZ), _kaldi_mel(_RATE / 2)
        edges = lo + (hi - lo) / (bands + 1) * np.arange(bands + 2)
        mel = _kaldi_mel(np.arange(_NFFT // 2) * (_RATE / _NFFT))
        left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
        rising = (mel - left) / (centre - left)
        falling = (right - mel) / (right - centre)
        weights = np.where(mel <= centre, rising, falling)
        _BANKS[bands] = np.where((mel > left) & (mel < right), weights, 0.0)
    return _BANKS[bands]


def fbank_frames(n_samples: int) -> int:
    """How many frames :func:`fbank` gives for ``n_samples`` (0 below 400 samples).

    Example:
        >>> fbank_frames(399), fbank_frames(400), fbank_frames(4800)
        (0, 1, 28)
    """
    return 0 if n_samples < _WIN else 1 + (n_samples - _WIN) // _HOP


def fbank(
    samples: npt.NDArray[np.floating], *, bands: int = 80, rate: int = _RATE
) -> npt.NDArray[np.float32]:
    """``(frames, bands)`` Kaldi log-mel filterbank of 16 kHz mono ``samples``.

    Args:
        samples: The signal, at any scale (speaker encoders remove the per-band mean,
            and with it the scale).
        bands: Mel bands.
        rate: The samples' rate; only 16000 is supported.

    Raises:
        InputError: ``rate`` is not 16000 or ``samples`` is not one-dimensional.
    """
    if rate != _RATE:
        raise InputError(f"fbank needs 16000 Hz audio, got rate={rate}", hint="resample first")
    x = np.asarray(samples, np.float64)
    if x.ndim != 1:
        raise InputError(f"fbank needs mono samples (one dimension), got shape {x.shape}")
    n = fbank_frames(len(x))
    if n == 0:
        return np.zeros((0, bands), np.float32)
    windows = np.lib.stride_tricks.sliding_window_view(x, _WIN)[::_HOP][:n]
    out = np.empty((n, bands), np.float32)
    for i in range(0, n, _BLOCK):  # in blocks: an hour of audio stays a few MiB at a time
        out[i : i + _BLOCK] = _log_mel(windows[i : i + _BLOCK], bands)
    return out


def _log_mel(windows: npt.NDArray[np.float64], bands: int) -> npt.NDArray[np.float32]:
    """Log-mel energies of ``(frames, 400)`` raw sample windows."""
    frames = windows - windows.mean(axis=1, keepdims=True)
    frames = np.concatenate(
        [frames[:, :1] * (1 - _PREEMPH), frames[:, 1:] - _PREEMPH * frames[:, :-1]], axis=1
    )
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(_WIN) / (_WIN - 1))
    spectrum = np.fft.rfft(frames * hann**_POVEY, n=_NFFT, axis=1)[:, : _NFFT // 2]
    power = spectrum.real**2 + spectrum.imag**2
    energies = np.maximum(power @ _banks(bands).T, _FLOOR)
    return np.log(energies).astype(np.float32)
