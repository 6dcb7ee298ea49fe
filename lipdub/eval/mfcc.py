"""The audio features of the SyncNet protocol: 13 MFCCs at 100 Hz.

The reference computes them with ``python_speech_features.mfcc`` at its defaults on
16 kHz int16 samples (values in -32768..32767, not scaled to -1..1): pre-emphasis
0.97, 25 ms rectangular frames every 10 ms (the last one zero-padded), a 512-point
power spectrum divided by 512, 26 triangular mel filters from 0 Hz to 8 kHz (edges on
``floor(513 * hz / rate)`` bins), log, orthonormal DCT-II, a sinusoidal lifter of 22,
and the first coefficient replaced by the log of the frame's total power. This module
implements those formulas with numpy.

Example:
    >>> import numpy as np
    >>> mfcc(np.zeros(16000, np.int16)).shape
    (13, 99)
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy.fft import dct

__all__ = ["MFCC_RATE_HZ", "SAMPLE_RATE_HZ", "mfcc"]

#: The audio rate the protocol works at.
SAMPLE_RATE_HZ = 16000
#: MFCC columns per second.
MFCC_RATE_HZ = 100

_NFFT = 512
_NFILT = 26
_NCEP = 13
_LIFTER = 22
_PREEMPH = 0.97


def _hz2mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return 2595 * np.log10(1 + hz / 700.0)


def _mel2hz(mel: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return 700 * (10 ** (mel / 2595.0) - 1)


def _filterbank(rate: int) -> npt.NDArray[np.float64]:
    points = np.linspace(0.0, float(_hz2mel(np.array(rate / 2))), _NFILT + 2)
    edges = np.floor((_NFFT + 1) * _mel2hz(points) / rate)
    fb = np.zeros((_NFILT, _NFFT // 2 + 1))
    for j in range(_NFILT):
        lo, mid, hi = edges[j], edges[j + 1], edges[j + 2]
        for i in range(int(lo), int(mid)):
            fb[j, i] = (i - lo) / (mid - lo)
        for i in range(int(mid), int(hi)):
            fb[j, i] = (hi - i) / (hi - mid)
    return fb


def mfcc(samples: npt.ArrayLike, sample_rate_hz: int = SAMPLE_RATE_HZ) -> npt.NDArray[np.float64]:
    """``(13, T)`` MFCCs of mono samples (int16 scale), one column per 10 ms.

    Args:
        samples: Mono audio; int16 values, or floats on the int16 scale.
        sample_rate_hz: Its rate (the protocol uses 16000).
    """
    sig = np.asarray(samples, dtype=np.float64).reshape(-1)
    if sig.size == 0:
        return np.zeros((_NCEP, 0))
    sig = np.append(sig[0], sig[1:] - _PREEMPH * sig[:-1])
    flen = math.floor(0.025 * sample_rate_hz + 0.5)
    step = math.floor(0.01 * sample_rate_hz + 0.5)
    n = 1 if sig.size <= flen else 1 + math.ceil((sig.size - flen) / step)
    padded = np.concatenate([sig, np.zeros((n - 1) * step + flen - sig.size)])
    idx = np.arange(flen)[None, :] + (np.arange(n) * step)[:, None]
    frames = padded[idx]
    power = np.square(np.abs(np.fft.rfft(frames, _NFFT))) / _NFFT
    eps = np.finfo(float).eps
    energy = power.sum(axis=1)
    energy = np.where(energy == 0, eps, energy)
    feat = power @ _filterbank(sample_rate_hz).T
    feat = np.where(feat == 0, eps, feat)
    cep = dct(np.log(feat), type=2, axis=1, norm="ortho")[:, :_NCEP]
    cep = cep * (1 + (_LIFTER / 2.0) * np.sin(np.pi * np.arange(_NCEP) / _LIFTER))
    cep[:, 0] = np.log(energy)
    out: npt.NDArray[np.float64] = cep.T
    return out
