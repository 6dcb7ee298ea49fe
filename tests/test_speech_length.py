"""The speech-length predictor (issue 26): calibrated once per voice, cached, and a
corrupt cache file is untrusted input (ignored with a warning, made again)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from lipdub.errors import BackendError
from lipdub.testing import FakeVoiceSynth
from lipdub.types import AudioClip, Voice
from lipdub.types.fit import SpeechLength
from lipdub.voice.base import VoiceSynth
from lipdub.voice.length import (
    CALIBRATION_TEXTS,
    PhonemeLength,
    calibrate,
    predictor_for,
    speech_length_cache_dir,
)

# English lines not in the calibration text (the evaluation side of the split).
HELD_OUT = (
    "I didn't know you were there.",
    "The meeting moved to Thursday afternoon because half of the team is travelling.",
    "Yes, of course.",
    "Can we go over the budget one more time before we send it?",
)


def _espeak() -> VoiceSynth:
    pytest.importorskip("espeakng_loader")
    from lipdub.voice.espeak import EspeakVoiceSynth

    return EspeakVoiceSynth()


def _cache_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.json"))


def test_espeak_is_calibrated_in_phonemes_and_predicts_unseen_lines(tmp_path: Path) -> None:
    synth = _espeak()
    length = predictor_for(synth, language="en", cache_dir=tmp_path)
    assert isinstance(length, PhonemeLength) and length.unit == "phoneme"
    assert length.voice == "espeak:en" and length.phonemizer == "en-US"
    assert not set(HELD_OUT) & set(CALIBRATION_TEXTS["en"])
    errors = []
    for text in HELD_OUT:
        real = synth.synthesize(text, language="en").duration_s
        errors.append(abs(length.seconds(text) - real) / real)
    assert max(errors) < 0.15, errors
    assert float(np.median(errors)) < 0.1, errors
    # a number is said as words: more phonemes than its characters suggest
    assert length.units("1999") > length.units("wxyz") * 2


def test_the_calibration_is_cached_per_voice(tmp_path: Path) -> None:
    synth = FakeVoiceSynth()
    first = predictor_for(synth, language="es", cache_dir=tmp_path)
    said = len(synth.calls)
    # each sentence, those with a comma without it, and pairs of sentences
    assert {c[0] for c in synth.calls} >= set(CALIBRATION_TEXTS["es"])
    again = predictor_for(synth, language="es", cache_dir=tmp_path)
    assert again == first and len(synth.calls) == said  # read back, not spoken again
    assert len(_cache_files(tmp_path)) == 1
    # another voice setting, language or voice: calibrated on its own
    slower = predictor_for(FakeVoiceSynth(seconds_per_word=0.6), language="es", cache_dir=tmp_path)
    assert slower.per_unit_s == pytest.approx(2 * first.per_unit_s, rel=1e-6)
    predictor_for(synth, language="fr", cache_dir=tmp_path)
    predictor_for(synth, language="es", voice="fake-tone", cache_dir=tmp_path)
    assert len(_cache_files(tmp_path)) == 4


def test_the_default_cache_is_under_lipdub_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIPDUB_CACHE", str(tmp_path))
    assert speech_length_cache_dir() == tmp_path / "speech-length"
    predictor_for(FakeVoiceSynth(), language="en")
    assert len(_cache_files(tmp_path / "speech-length")) == 1


@pytest.mark.parametrize(
    "content",
    [
        "not json at all {",
        "[1, 2, 3]",
        '{"key": "another voice\'s"}',
        "",
    ],
)
def test_a_corrupt_cache_file_is_ignored_with_a_warning_and_rebuilt(
    tmp_path: Path, content: str, caplog: pytest.LogCaptureFixture
) -> None:
    good = predictor_for(FakeVoiceSynth(), language="en", cache_dir=tmp_path)
    (path,) = _cache_files(tmp_path)
    path.write_text(content, encoding="utf-8")
    synth = FakeVoiceSynth()
    with caplog.at_level(logging.WARNING, logger="lipdub.voice.length"):
        again = predictor_for(synth, language="en", cache_dir=tmp_path)
    assert again == good and synth.calls  # spoken again
    assert "ignoring the cached speech-length calibration" in caplog.text
    assert str(path) in caplog.text
    assert json.loads(path.read_text(encoding="utf-8"))["per_unit_s"] == good.per_unit_s


def test_cached_numbers_out_of_range_are_not_trusted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = predictor_for(FakeVoiceSynth(), language="en", cache_dir=tmp_path)
    (path,) = _cache_files(tmp_path)
    for bad in (-1.0, "0.05", None, 1e400):
        record = json.loads(path.read_text(encoding="utf-8"))
        record["per_unit_s"] = bad
        path.write_text(json.dumps(record), encoding="utf-8")
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="lipdub.voice.length"):
            assert predictor_for(FakeVoiceSynth(), language="en", cache_dir=tmp_path) == good
        assert "ignoring the cached" in caplog.text, bad


def test_a_folder_in_place_of_the_cache_file_still_gives_a_predictor(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = predictor_for(FakeVoiceSynth(), language="en", cache_dir=tmp_path)
    (path,) = _cache_files(tmp_path)
    path.unlink()
    path.mkdir()
    with caplog.at_level(logging.WARNING, logger="lipdub.voice.length"):
        assert predictor_for(FakeVoiceSynth(), language="en", cache_dir=tmp_path) == good
    assert "ignoring the cached" in caplog.text and "cannot keep" in caplog.text


def test_characters_when_asked() -> None:
    length = calibrate(FakeVoiceSynth(), CALIBRATION_TEXTS["en"], language="en", unit="char")
    assert type(length) is SpeechLength and length.unit == "char"
    assert length.seconds("Hello there.") > 0


def test_a_language_without_calibration_text_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    synth = FakeVoiceSynth()
    with caplog.at_level(logging.WARNING, logger="lipdub.voice.length"):
        predictor_for(synth, language="sw", cache_dir=tmp_path, unit="char")
    assert "no calibration text in 'sw'" in caplog.text
    assert [c[0] for c in synth.calls] == list(CALIBRATION_TEXTS["en"])
    own = ("Habari ya asubuhi.", "Asante sana kwa kuja leo, rafiki yangu.")
    synth.calls.clear()
    predictor_for(synth, language="sw", cache_dir=tmp_path, calibration_text=own, unit="char")
    assert [c[0] for c in synth.calls] == list(own)


class _BrokenVoice(VoiceSynth):
    """A voice whose service is down."""

    name: ClassVar[str] = "broken"

    def settings(self) -> dict[str, Any]:
        return {}

    def list_voices(self, language: str | None = None) -> list[Voice]:
        return []

    def synthesize(
        self,
        text: str,
        *,
        voice: str | None = None,
        language: str | None = None,
        rate: float = 1.0,
        reference: AudioClip | None = None,
    ) -> AudioClip:
        raise BackendError("the speech service is down", backend=self.name)

    def synthesize_many(self, texts: Sequence[str], **kwargs: Any) -> list[AudioClip]:
        return [self.synthesize(t) for t in texts]


def test_a_voice_that_cannot_be_calibrated_gets_the_fixed_rate_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="lipdub.voice.length"):
        length = predictor_for(_BrokenVoice(), language="en", cache_dir=tmp_path)
    assert length == SpeechLength("broken:en")
    assert "cannot calibrate the speech length of broken:en" in caplog.text
    assert "the speech service is down" in caplog.text
    assert _cache_files(tmp_path) == []  # not kept: the next run tries again


def test_phoneme_lengths_convert_to_characters() -> None:
    pytest.importorskip("espeakng_loader")
    length = PhonemeLength("v", "phoneme", 0.07, 0.2, phonemizer="en-US", chars_per_unit=1.5)
    assert length.chars_in(0.2 + 0.07 * 20) == 30
    assert length.units("") == 0 and length.seconds("  ") == 0.0
    with pytest.raises(ValueError, match="counts phonemes"):
        PhonemeLength("v", "char", 0.07, 0.2)


def test_a_matched_voice_is_calibrated_apart_from_its_base(tmp_path: Path) -> None:
    from lipdub.voice.match import MatchedVoiceSynth

    base = FakeVoiceSynth()
    plain = predictor_for(base, language="en", cache_dir=tmp_path)
    matched = predictor_for(MatchedVoiceSynth(base), language="en", cache_dir=tmp_path)
    assert len(_cache_files(tmp_path)) == 2
    assert matched.voice == "match:en"
    # the matching keeps the base's length, so the fit is the same line
    assert matched.per_unit_s == pytest.approx(plain.per_unit_s, rel=1e-6)
    assert matched.overhead_s == pytest.approx(plain.overhead_s, abs=1e-6)
