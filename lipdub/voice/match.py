"""A reference-matched voice: another backend's speech moved towards a reference voice.

:class:`MatchedVoiceSynth` (registry name ``"match"``) is the offline stand-in for a
neural voice clone. It needs no model weights: it speaks with a base backend (espeak-ng
by default) and then

1. shifts the speech's pitch so its median F0 is the reference's (a resample, then a
   pitch-keeping time-stretch back to the same length), and
2. equalises its long-term spectrum towards the reference's (a fixed per-frequency
   gain, at most ``max_eq_db`` either way, loudness kept).

It is honestly *not* a clone: the words, rhythm and voice quality are the base
backend's; only the pitch register and the broad timbre follow the reference. Two
speakers of a dub are told apart by it, each sounding nearer to their own reference.
For real cloning use ``"chatterbox"`` (:mod:`lipdub.voice.chatterbox`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, ClassVar

import numpy as np

from lipdub import registry
from lipdub._hashing import clip_key
from lipdub.audio.dsp import time_stretch
from lipdub.errors import InputError
from lipdub.events import EventCallback
from lipdub.types import AudioClip, Voice
from lipdub.voice.base import VoiceSynth
from lipdub.voice.voiceprint import long_term_spectrum, median_f0, spectrum_shape

__all__ = ["MatchedVoiceSynth", "ReferenceProfile", "pitch_shift"]


def pitch_shift(clip: AudioClip, ratio: float) -> AudioClip:
    """``clip`` with every frequency times ``ratio`` and the same length.

    The ratio is taken as a fraction with a denominator of at most 64 (within 0.4 %
    of a semitone's width), so the resample stays a short polyphase filter.

    Example:
        >>> from lipdub.voice.voiceprint import median_f0
        >>> t = np.arange(16000) / 16000
        >>> tone = AudioClip((0.5 * np.sign(np.sin(2 * np.pi * 120 * t))).astype(np.float32), 16000)
        >>> up = pitch_shift(tone, 1.5)
        >>> up.num_samples == tone.num_samples, round(median_f0(up) / 120, 1)
        (True, 1.5)
    """
    if not 0.25 <= ratio <= 4.0:
        raise InputError(f"pitch_shift ratio must be within 0.25..4, got {ratio}")
    frac = Fraction(ratio).limit_denominator(64)
    if frac == 1 or clip.num_samples == 0:
        return clip
    from scipy.signal import resample_poly

    # fewer samples played at the same rate: higher by p/q and shorter by q/p
    fast = resample_poly(clip.samples, frac.denominator, frac.numerator).astype(np.float32)
    shifted = AudioClip(fast, clip.sample_rate_hz)
    return time_stretch(shifted, float(1 / frac), target_s=clip.duration_s)


@dataclass(frozen=True)
class ReferenceProfile:
    """What the matched voice takes from a reference: its median F0 and spectrum shape."""

    f0_hz: float | None
    shape_db: np.ndarray[Any, np.dtype[np.float64]]
    centres_hz: np.ndarray[Any, np.dtype[np.float64]]

    @classmethod
    def of(cls, clip: AudioClip) -> ReferenceProfile:
        """Measure ``clip``."""
        centres, level = long_term_spectrum(clip)
        return cls(median_f0(clip), spectrum_shape(level), centres)


class MatchedVoiceSynth(VoiceSynth):
    """Speech of a base backend matched to a reference's pitch and timbre (no weights).

    Args:
        base: The backend that speaks the words (a registry name, ``(name, options)``
            or an instance; default ``"espeak"``). Its voices are this backend's.
        match_pitch: Shift the pitch to the reference's median F0.
        match_timbre: Equalise the long-term spectrum towards the reference's.
        max_eq_db: Largest gain or cut of the equaliser, in dB.
        max_shift: Largest pitch ratio either way (2.0: one octave).

    Without a reference it speaks as the base backend does.

    Example:
        >>> from lipdub.testing import FakeVoiceSynth
        >>> synth = MatchedVoiceSynth(FakeVoiceSynth())
        >>> synth.clones, synth.settings()["base"]["name"]
        (True, 'fake')
    """

    name: ClassVar[str] = "match"
    clones: ClassVar[bool] = True

    def __init__(
        self,
        base: VoiceSynth | str | Any = "espeak",
        *,
        match_pitch: bool = True,
        match_timbre: bool = True,
        max_eq_db: float = 12.0,
        max_shift: float = 2.0,
    ) -> None:
        if not 0.0 <= max_eq_db <= 40.0:
            raise InputError(f"max_eq_db must be within 0..40, got {max_eq_db}")
        if not 1.0 <= max_shift <= 4.0:
            raise InputError(f"max_shift must be within 1..4, got {max_shift}")
        self.base: VoiceSynth = registry.resolve("voice", base)
        if self.base.clones:
            raise InputError(
                f"the base of a matched voice must speak its own voices, not clone "
                f"({self.base.name})"
            )
        self.match_pitch = match_pitch
        self.match_timbre = match_timbre
        self.max_eq_db = float(max_eq_db)
        self.max_shift = float(max_shift)
        self._profiles: dict[str, ReferenceProfile] = {}
        self._lock = threading.Lock()

    @property
    def native_rate(self) -> bool:  # type: ignore[override]
        """The base backend's (the matching keeps the length)."""
        return self.base.native_rate

    def settings(self) -> dict[str, Any]:
        """The base backend's identity and the matching options."""
        return {
            "base": {"name": self.base.name, "settings": self.base.settings()},
            "match_pitch": self.match_pitch,
            "match_timbre": self.match_timbre,
            "max_eq_db": self.max_eq_db,
            "max_shift": self.max_shift,
        }

    def list_voices(self, language: str | None = None) -> list[Voice]:
        """The base backend's voices (they speak the words before matching)."""
        return self.base.list_voices(language)

    def profile(self, reference: AudioClip) -> ReferenceProfile:
        """The reference's measures (computed once per distinct clip)."""
        key = clip_key(reference)
        with self._lock:
            found = self._profiles.get(key)
        if found is None:
            found = ReferenceProfile.of(reference)
            with self._lock:
                self._profiles[key] = found
        return found

    def synthesize(
        self,
        text: str,
        *,
        voice: str | None = None,
        language: str | None = None,
        rate: float = 1.0,
        reference: AudioClip | None = None,
    ) -> AudioClip:
        """The base backend's speech of ``text``, matched to ``reference`` when given."""
        speech = self.base.synthesize(text, voice=voice, language=language, rate=rate)
        if reference is None or speech.num_samples == 0:
            return speech
        return self.match(speech, self.profile(reference))

    def synthesize_many(
        self,
        texts: Sequence[str],
        *,
        voice: str | None = None,
        language: str | None = None,
        rate: float = 1.0,
        reference: AudioClip | None = None,
        on_event: EventCallback | None = None,
    ) -> list[AudioClip]:
        """The base backend's batch (its concurrency kept), each clip then matched."""
        clips = self.base.synthesize_many(
            texts, voice=voice, language=language, rate=rate, on_event=on_event
        )
        if reference is None:
            return clips
        prof = self.profile(reference)
        return [self.match(c, prof) if c.num_samples else c for c in clips]

    def match(self, speech: AudioClip, profile: ReferenceProfile) -> AudioClip:
        """``speech`` moved to the profile's pitch and spectrum shape, same length."""
        out = speech
        if self.match_pitch and profile.f0_hz is not None:
            own = median_f0(speech, min_frames=5)
            if own is not None:
                ratio = min(max(profile.f0_hz / own, 1 / self.max_shift), self.max_shift)
                if abs(ratio - 1.0) > 0.01:
                    out = pitch_shift(out, ratio)
        if self.match_timbre and self.max_eq_db > 0:
            out = self._equalise(out, profile)
        peak = float(np.max(np.abs(out.samples))) if out.num_samples else 0.0
        target = float(np.max(np.abs(speech.samples)))
        if peak > 0:
            out = AudioClip(
                (out.samples * (min(target, 0.98) / peak)).astype(np.float32), out.sample_rate_hz
            )
        return out

    def _equalise(self, speech: AudioClip, profile: ReferenceProfile) -> AudioClip:
        from scipy.signal import istft, stft

        _, level = long_term_spectrum(speech)
        gain_db = np.clip(profile.shape_db - spectrum_shape(level), -self.max_eq_db, self.max_eq_db)
        rate = speech.sample_rate_hz
        nper = 1024 if rate > 24000 else 512
        freqs, _, z = stft(speech.samples, rate, nperseg=nper, noverlap=nper * 3 // 4)
        curve = np.interp(freqs, profile.centres_hz, gain_db)  # flat beyond the bands
        z = z * (10 ** (curve / 20))[:, None]
        _, y = istft(z, rate, nperseg=nper, noverlap=nper * 3 // 4)
        y = np.asarray(y[: speech.num_samples], np.float32)
        if y.size < speech.num_samples:
            y = np.pad(y, (0, speech.num_samples - y.size))
        return AudioClip(y, rate)
