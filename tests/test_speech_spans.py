"""The energy speech detector used by `lipdub lipsync` on generated audio."""

from __future__ import annotations

import numpy as np
import pytest

from lipdub.errors import InputError
from lipdub.media.speech_spans import detect_speech_spans
from lipdub.testing.media import speech_tones
from lipdub.types import AudioClip

RATE = 16000


def _clip(*parts: np.ndarray) -> AudioClip:
    return AudioClip(np.concatenate(parts).astype(np.float32), RATE)


def _zeros(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * RATE), np.float32)


def _noise(seconds: float, rms: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(round(seconds * RATE)) * rms).astype(np.float32)


@pytest.mark.parametrize("seconds", [0.0, 0.01, 1.0, 3.0])
def test_digital_silence_has_no_speech(seconds: float) -> None:
    assert detect_speech_spans(AudioClip.silence(seconds, RATE)) == []


def test_quiet_hiss_has_no_speech() -> None:
    assert detect_speech_spans(_clip(_noise(2.0, 0.003))) == []  # about -50 dBFS


def test_leading_silence_is_left_out() -> None:
    """The issue's case: 0.54 s of digital silence before the speech."""
    speech = speech_tones(1.6, RATE).samples
    spans = detect_speech_spans(_clip(_zeros(0.54), speech))
    assert len(spans) == 1
    start, end = spans[0]
    assert 0.45 <= start <= 0.54  # a short pre-roll, never into the silence's start
    # the last syllable ends 0.54 + 1.45 s in; the hangover adds 0.1 s
    assert 1.95 <= end <= 2.14


def test_pauses_between_syllables_are_bridged_long_ones_are_not() -> None:
    burst = speech_tones(0.4, RATE).samples  # one 0.25 s syllable and its pause
    spans = detect_speech_spans(_clip(burst, _zeros(1.0), burst, burst))
    assert len(spans) == 2
    (a0, a1), (b0, b1) = spans
    assert a0 == 0.0 and 0.25 <= a1 <= 0.4
    assert 1.35 <= b0 <= 1.4 and 2.0 <= b1 <= 2.2


def test_speech_over_a_noise_floor() -> None:
    noise = _noise(4.0, 0.01)  # -40 dBFS room noise
    noise[RATE : 3 * RATE] += speech_tones(2.0, RATE).samples
    spans = detect_speech_spans(AudioClip(noise, RATE))
    assert len(spans) == 1
    assert 0.9 <= spans[0][0] <= 1.0 and 2.8 <= spans[0][1] <= 3.0


def test_a_steady_loud_sound_counts_as_speech_throughout() -> None:
    t = np.arange(RATE) / RATE
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    assert detect_speech_spans(AudioClip(tone, RATE)) == [(0.0, 1.0)]


def test_short_clicks_are_not_speech() -> None:
    click = np.full(80, 0.5, np.float32)  # 5 ms
    spans = detect_speech_spans(_clip(_zeros(0.5), click, _zeros(0.5)))
    assert spans == []


def test_any_sample_rate() -> None:
    clip = AudioClip(
        np.concatenate([np.zeros(4000, np.float32), speech_tones(1.0, 8000).samples]), 8000
    )
    spans = detect_speech_spans(clip)
    assert len(spans) == 1 and 0.4 <= spans[0][0] <= 0.5


@pytest.mark.parametrize(
    "bad", [{"frame_s": 0.0}, {"hangover_s": float("nan")}, {"bridge_s": -1.0}]
)
def test_bad_parameters_are_input_errors(bad: dict[str, float]) -> None:
    with pytest.raises(InputError):
        detect_speech_spans(speech_tones(0.5, RATE), **bad)  # type: ignore[arg-type]
