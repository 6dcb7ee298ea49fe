"""A separator that needs no model: duck the original speech where it is spoken."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from lipdub.events import EventCallback
from lipdub.separate.base import Separation, Separator
from lipdub.types import AudioClip

__all__ = ["DuckingSeparator"]


class DuckingSeparator(Separator):
    """Keeps the background by suppressing the original voice during speech spans only.

    Inside each speech span the speech band (``band_hz``) is attenuated by
    ``duck_db`` and the rest of the spectrum by ``rest_db``; outside the spans the
    audio is untouched. Gains ramp over ``fade_s`` so no clicks appear. The "voice"
    stem is the original minus the background.

    This is a fallback: music and ambience under the speech get quieter too. A model
    backend (vocal separation) keeps them intact.

    Example:
        >>> import numpy as np
        >>> from lipdub.types import AudioClip
        >>> clip = AudioClip(np.full(16000, 0.5, np.float32), 16000)
        >>> sep = DuckingSeparator().separate(clip, [(0.25, 0.75)])
        >>> float(sep.background.samples[0]), abs(float(sep.background.samples[8000])) < 0.5
        (0.5, True)
    """

    name: ClassVar[str] = "duck"

    def __init__(
        self,
        duck_db: float = -30.0,
        rest_db: float = -6.0,
        band_hz: tuple[float, float] = (150.0, 5000.0),
        fade_s: float = 0.08,
    ) -> None:
        self.duck_db = duck_db
        self.rest_db = rest_db
        self.band_hz = band_hz
        self.fade_s = fade_s

    def settings(self) -> dict[str, Any]:
        """The options that change the stems (JSON-ready)."""
        return {
            "duck_db": self.duck_db,
            "rest_db": self.rest_db,
            "band_hz": list(self.band_hz),
            "fade_s": self.fade_s,
        }

    def _envelope(self, n: int, rate: int, spans: Sequence[tuple[float, float]]) -> np.ndarray:
        mask = np.zeros(n, np.float32)
        for a, b in spans:
            mask[max(0, round(a * rate)) : min(n, round(b * rate))] = 1.0
        fade = max(1, round(self.fade_s * rate))
        kernel = np.hanning(2 * fade + 1).astype(np.float32)
        kernel /= kernel.sum()
        return np.clip(np.convolve(mask, kernel, mode="same"), 0.0, 1.0)

    def separate(
        self,
        audio: AudioClip,
        speech_spans: Sequence[tuple[float, float]] = (),
        *,
        on_event: EventCallback | None = None,
    ) -> Separation:
        """Duck the voice band during ``speech_spans``; see the class docstring."""
        from scipy.signal import butter, sosfiltfilt

        x = audio.samples.astype(np.float64)
        rate = audio.sample_rate_hz
        if x.size < 32 or not speech_spans:
            return Separation(AudioClip(np.zeros_like(audio.samples), rate), audio)
        lo, hi = self.band_hz
        hi = min(hi, 0.45 * rate)
        sos = butter(4, [lo, hi], btype="bandpass", fs=rate, output="sos")
        band = sosfiltfilt(sos, x) if x.size > 60 else x
        rest = x - band
        env = self._envelope(x.size, rate, speech_spans).astype(np.float64)
        g_band = 1.0 + env * (10 ** (self.duck_db / 20) - 1.0)
        g_rest = 1.0 + env * (10 ** (self.rest_db / 20) - 1.0)
        background = band * g_band + rest * g_rest
        # Outside the spans keep the exact input samples (the filters are not lossless).
        untouched = env == 0
        background[untouched] = x[untouched]
        bg = AudioClip(background.astype(np.float32), rate)
        return Separation(AudioClip((x - background).astype(np.float32), rate), bg)
