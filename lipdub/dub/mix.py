"""The dubbed soundtrack: new speech over the original background at matched loudness."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lipdub.audio.dsp import integrated_loudness, limit_peak, mix_at
from lipdub.separate.base import Separator
from lipdub.types import AudioClip

__all__ = ["remix"]


def remix(
    speech: AudioClip,
    original: AudioClip | None,
    *,
    source_speech_spans: Sequence[tuple[float, float]] = (),
    separator: Separator | None = None,
    background: AudioClip | None = None,
    keep_background: bool = True,
) -> AudioClip:
    """The dubbed soundtrack: new ``speech`` over the original's background.

    The speech is scaled to the loudness (LUFS) of the original speech, the background
    is ``background`` when given (a separation done once for several languages), else
    comes from ``separator`` (the original voice removed or ducked during
    ``source_speech_spans``), and the sum is peak-limited so it never clips. Without
    an original (a still image) or with ``keep_background=False`` the speech alone is
    returned, loudness-normalised to -16 LUFS.
    """
    rate = speech.sample_rate_hz
    target_lufs = -16.0
    if original is not None:
        original = original.resample(rate)
        voiced = [original.slice(a, b).samples for a, b in source_speech_spans]
        ref = AudioClip(np.concatenate(voiced), rate) if voiced else original
        lufs = integrated_loudness(ref)
        if np.isfinite(lufs):
            target_lufs = min(max(lufs, -30.0), -10.0)
    speech_lufs = integrated_loudness(speech)
    gain = 10 ** ((target_lufs - speech_lufs) / 20) if np.isfinite(speech_lufs) else 1.0
    out = AudioClip(speech.samples * np.float32(gain), rate)
    keep = original is not None and keep_background
    if keep and background is None and separator is not None:
        assert original is not None
        background = separator.separate(original, source_speech_spans).background
    if keep and background is not None:
        background = background.resample(rate).pad_to(out.duration_s)
        out = mix_at(out.pad_to(max(out.duration_s, background.duration_s)), background, 0.0)
    return limit_peak(out)
