"""A model-free voice isolator: band-limit and subtract the steady background."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from lipdub.errors import InputError
from lipdub.events import EventCallback
from lipdub.separate.base import Separation, Separator
from lipdub.types import AudioClip

__all__ = ["SpectralVoiceSeparator"]


class SpectralVoiceSeparator(Separator):
    """Isolates a voice from steady background sound by spectral subtraction.

    In the short-time spectrum, each frequency bin's *floor* (its ``floor_percentile``
    over time) is taken as the steady background (hum, hiss, room tone, held notes) and
    subtracted ``over_subtract`` times; bins outside the voice band are dropped. Inside
    ``speech_spans`` (when given) the voice is kept, elsewhere it is silenced. The
    background stem is the input minus the voice.

    It needs no model and is meant to drive lip-sync from speech recorded over noise
    or music (``lipdub lipsync --isolate-voice``): Wav2Lip moves lips to any sound in
    the speech band. It does not separate a voice from a changing melody as a trained
    separator would.

    Example:
        >>> import numpy as np
        >>> from lipdub.types import AudioClip
        >>> rate = 16000
        >>> t = np.arange(2 * rate) / rate
        >>> hum = 0.3 * np.sin(2 * np.pi * 60 * t)
        >>> sep = SpectralVoiceSeparator().separate(AudioClip(hum.astype(np.float32), rate))
        >>> bool(sep.voice.rms() < 0.05 * AudioClip(hum.astype(np.float32), rate).rms())
        True
    """

    name: ClassVar[str] = "spectral"

    def __init__(
        self,
        band_hz: tuple[float, float] = (90.0, 5000.0),
        floor_percentile: float = 30.0,
        over_subtract: float = 2.0,
        frame_s: float = 0.064,
    ) -> None:
        if not 0 < band_hz[0] < band_hz[1]:
            raise InputError(f"band_hz must be (low, high) with 0 < low < high, got {band_hz}")
        if not 0 <= floor_percentile < 100 or over_subtract < 0 or frame_s <= 0:
            raise InputError(
                "floor_percentile must be in [0, 100), over_subtract >= 0, frame_s > 0"
            )
        self.band_hz = band_hz
        self.floor_percentile = floor_percentile
        self.over_subtract = over_subtract
        self.frame_s = frame_s

    def settings(self) -> dict[str, Any]:
        """The options that change the stems (JSON-ready)."""
        return {
            "band_hz": list(self.band_hz),
            "floor_percentile": self.floor_percentile,
            "over_subtract": self.over_subtract,
            "frame_s": self.frame_s,
        }

    def separate(
        self,
        audio: AudioClip,
        speech_spans: Sequence[tuple[float, float]] = (),
        *,
        on_event: EventCallback | None = None,
    ) -> Separation:
        """Return the isolated voice and the rest; see the class docstring."""
        from scipy.signal import istft, stft

        rate = audio.sample_rate_hz
        x = audio.samples.astype(np.float64)
        n_fft = max(64, int(2 ** np.round(np.log2(self.frame_s * rate))))
        if x.size < n_fft:
            silent = AudioClip(np.zeros_like(audio.samples), rate)
            return Separation(silent, audio)
        hop = n_fft // 4
        freqs, times, spec = stft(x, fs=rate, nperseg=n_fft, noverlap=n_fft - hop)
        mag = np.abs(spec)
        floor = np.percentile(mag, self.floor_percentile, axis=1, keepdims=True)
        gain = np.clip(1.0 - self.over_subtract * floor / (mag + 1e-12), 0.0, 1.0)
        lo, hi = self.band_hz
        gain[(freqs < lo) | (freqs > hi), :] = 0.0
        if speech_spans:
            inside = np.zeros(times.shape, bool)
            for a, b in speech_spans:
                inside |= (times >= a) & (times <= b)
            gain[:, ~inside] = 0.0
        _, voice = istft(gain * spec, fs=rate, nperseg=n_fft, noverlap=n_fft - hop)
        voice = np.pad(voice, (0, max(0, x.size - voice.size)))[: x.size]
        voice_clip = AudioClip(voice.astype(np.float32), rate)
        return Separation(voice_clip, AudioClip((x - voice).astype(np.float32), rate))
