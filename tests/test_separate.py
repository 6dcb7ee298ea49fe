"""Separators: the model-free ducking and spectral voice isolation."""

from __future__ import annotations

import numpy as np
import pytest

from lipdub import registry
from lipdub.separate.duck import DuckingSeparator
from lipdub.separate.spectral import SpectralVoiceSeparator
from lipdub.testing.media import speech_tones
from lipdub.types import AudioClip

RATE = 16000


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def test_spectral_isolation_removes_steady_background() -> None:
    voice = speech_tones(3.0, RATE).samples.astype(np.float64)
    t = np.arange(voice.size) / RATE
    rng = np.random.default_rng(0)
    background = 0.3 * np.sin(2 * np.pi * 50 * t) + 0.2 * np.sin(2 * np.pi * 7000 * t)
    background += 0.05 * rng.standard_normal(voice.size)
    mix = AudioClip((voice + background).astype(np.float32), RATE)
    sep = registry.resolve("separator", "spectral").separate(mix)
    assert sep.voice.num_samples == mix.num_samples == sep.background.num_samples
    assert _corr(sep.voice.samples, voice) > _corr(mix.samples, voice) + 0.2
    assert _corr(sep.voice.samples, voice) > 0.9
    np.testing.assert_allclose(sep.voice.samples + sep.background.samples, mix.samples, atol=1e-5)


def test_spectral_isolation_respects_speech_spans() -> None:
    clip = speech_tones(2.0, RATE)
    sep = SpectralVoiceSeparator().separate(clip, [(0.0, 1.0)])
    late = sep.voice.slice(1.2, 2.0)
    assert late.rms() < 0.01 * clip.slice(1.2, 2.0).rms() + 1e-6
    assert sep.voice.slice(0.1, 0.9).rms() > 0.5 * clip.slice(0.1, 0.9).rms()


def test_ducking_leaves_audio_outside_speech_untouched() -> None:
    rng = np.random.default_rng(1)
    clip = AudioClip((0.2 * rng.standard_normal(RATE * 2)).astype(np.float32), RATE)
    sep = DuckingSeparator().separate(clip, [(0.8, 1.2)])
    np.testing.assert_array_equal(
        sep.background.samples[: int(0.5 * RATE)], clip.samples[: int(0.5 * RATE)]
    )
    assert sep.background.slice(0.9, 1.1).rms() < 0.6 * clip.slice(0.9, 1.1).rms()


def test_separator_options_are_validated() -> None:
    with pytest.raises(ValueError, match="band_hz"):
        SpectralVoiceSeparator(band_hz=(500, 100))
