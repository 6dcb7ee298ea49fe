"""Voice activity (#24): Silero's model against a real recording's reference speech."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import numpy as np
import pytest

from lipdub.diarize import vad as vad_module
from lipdub.diarize.score import read_rttm
from lipdub.diarize.vad import LevelVad, SileroVad, SpeechMask, default_vad, vad_named
from lipdub.errors import InputError
from lipdub.types import AudioClip

SAMPLE = Path(__file__).parent / "data" / "external" / "pyannote_sample"


def test_a_mask_gives_its_spans_in_seconds() -> None:
    mask = SpeechMask(np.array([1, 1, 0, 0, 1, 1, 1], bool))
    assert mask.spans() == [(0.0, 0.02), (0.04, 0.07)]
    assert mask.speech_s == pytest.approx(0.05)


def test_the_level_threshold_finds_a_tone_and_not_the_silence() -> None:
    t = np.arange(32000) / 16000
    x = (0.3 * np.sin(2 * np.pi * 220 * t) * ((t > 0.5) & (t < 1.5))).astype(np.float32)
    (span,) = LevelVad().speech_spans(AudioClip(x, 16000))
    assert span[0] == pytest.approx(0.5, abs=0.03) and span[1] == pytest.approx(1.5, abs=0.03)


def test_an_unknown_method_is_refused_naming_the_choices() -> None:
    with pytest.raises(InputError, match="auto, silero, level"):
        vad_named("webrtc")


def test_without_silero_the_level_threshold_stands_in_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "silero_vad" else real(n, *a)
    )
    monkeypatch.setattr(vad_module, "_WARNED", [])
    with caplog.at_level(logging.WARNING, logger="lipdub.diarize.vad"):
        assert isinstance(default_vad(), LevelVad)
        assert isinstance(default_vad(), LevelVad)
    assert len(caplog.records) == 1 and "silero-vad is not installed" in caplog.text


needs_silero = pytest.mark.skipif(
    importlib.util.find_spec("silero_vad") is None,
    reason="silero-vad is not installed (lipdub[speakers]; scripts/setup installs it)",
)
needs_sample = pytest.mark.skipif(
    not (SAMPLE / "sample.wav").is_file(),
    reason="no real two-speaker sample in tests/data/external (scripts/setup fetches it)",
)


@needs_silero
def test_the_vad_choice_and_thresholds_are_in_the_diarizers_key() -> None:
    pytest.importorskip("librosa")
    from lipdub.diarize.embedded import EmbeddedDiarizer

    silero = EmbeddedDiarizer(vad="silero").settings()
    assert silero["vad"]["vad"] == "silero-vad-6.2.3/silero_vad.jit"
    assert silero != EmbeddedDiarizer(vad=SileroVad(threshold=0.5)).settings()
    assert silero != EmbeddedDiarizer(vad="level").settings()
    assert EmbeddedDiarizer().settings() == silero  # auto: Silero, when installed


@needs_silero
@needs_sample
def test_silero_finds_the_real_speech_that_the_level_threshold_misses() -> None:
    audio = AudioClip.load_wav(SAMPLE / "sample.wav")
    n = round(audio.duration_s * 100)
    truth = np.zeros(n, bool)
    for t in read_rttm(SAMPLE / "sample.rttm"):
        truth[round(t.start_s * 100) : round(t.end_s * 100)] = True
    rates = {}
    for name, vad in (("silero", SileroVad()), ("level", LevelVad())):
        m = vad.mask(audio).frames[:n]
        rates[name] = ((truth & ~m).sum() / truth.sum(), (m & ~truth).sum() / truth.sum())
    # measured on 22.46 s of reference speech: Silero misses 0.0 %, false alarm 4.3 %;
    # the level threshold misses 13.1 %, false alarm 0.8 %
    assert rates["silero"][0] < 0.02 and rates["silero"][1] < 0.08
    assert rates["level"][0] > 0.10
