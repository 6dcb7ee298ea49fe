"""EspeakVoiceSynth: real espeak-ng speech through the bundled libespeak-ng."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest

pytest.importorskip("espeakng_loader")

from lipdub import registry
from lipdub.errors import InputError, UnknownLanguageError
from lipdub.types import AudioClip
from lipdub.voice.espeak import EspeakVoiceSynth, espeak_to_bcp47


@pytest.fixture(scope="module")
def tts() -> EspeakVoiceSynth:
    return EspeakVoiceSynth()


def _voiced_fraction(clip: AudioClip, frame_s: float = 0.02) -> float:
    """Fraction of 20 ms frames louder than -40 dBFS."""
    n = int(frame_s * clip.sample_rate_hz)
    frames = clip.samples[: clip.num_samples // n * n].reshape(-1, n)
    rms = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))
    return float(np.mean(rms > 0.01))


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("es", "Hola, ¿cómo estás? Estoy muy bien, gracias."),
        ("en", "Hello, how are you? I am fine, thank you."),
    ],
)
def test_speaks_spanish_and_english(tts: EspeakVoiceSynth, language: str, text: str) -> None:
    clip = tts.synthesize(text, language=language)
    assert clip.sample_rate_hz == 22050
    assert 1.5 < clip.duration_s < 6.0  # nine words at ~175 words per minute
    assert clip.rms() > 0.02
    assert _voiced_fraction(clip) > 0.5
    assert np.abs(clip.samples).max() <= 1.0


def test_resamples_to_the_requested_rate() -> None:
    native = EspeakVoiceSynth().synthesize("Hello world.", language="en")
    clip = EspeakVoiceSynth(sample_rate_hz=16000).synthesize("Hello world.", language="en")
    assert clip.sample_rate_hz == 16000
    assert clip.duration_s == pytest.approx(native.duration_s, abs=0.01)


def test_faster_rate_is_shorter(tts: EspeakVoiceSynth) -> None:
    text = "The quick brown fox jumps over the lazy dog near the river bank."
    normal = tts.synthesize(text, language="en", rate=1.0)
    fast = tts.synthesize(text, language="en", rate=1.5)
    slow = tts.synthesize(text, language="en", rate=0.75)
    assert fast.duration_s < 0.8 * normal.duration_s
    assert slow.duration_s > 1.2 * normal.duration_s
    assert EspeakVoiceSynth.native_rate


def test_pitch_and_volume_change_the_sound() -> None:
    text = "Hello world."
    base = EspeakVoiceSynth().synthesize(text, language="en")
    quiet = EspeakVoiceSynth(volume=30).synthesize(text, language="en")
    assert quiet.rms() < 0.5 * base.rms()
    high = EspeakVoiceSynth(pitch=95).synthesize(text, language="en")
    assert not np.array_equal(high.samples[: base.num_samples], base.samples[: high.num_samples])


def test_long_text_is_spoken_sentence_by_sentence(tts: EspeakVoiceSynth) -> None:
    one = tts.synthesize("This is one sentence.", language="en")
    three = tts.synthesize(
        "This is one sentence. This is one sentence. This is one sentence.", language="en"
    )
    pauses = 2 * tts.sentence_pause_s
    assert three.duration_s == pytest.approx(3 * one.duration_s + pauses, rel=0.05)


def test_empty_text_gives_empty_clip(tts: EspeakVoiceSynth) -> None:
    clip = tts.synthesize("", language="es")
    assert clip.num_samples == 0 and clip.sample_rate_hz == 22050


def test_list_voices_by_language(tts: EspeakVoiceSynth) -> None:
    everything = tts.list_voices()
    assert len(everything) > 50
    spanish = tts.list_voices("es")
    assert "es" in {v.name for v in spanish}
    assert all(v.supports("es") for v in spanish)
    assert all(v.backend == "espeak" and v.natural_sample_rate_hz == 22050 for v in spanish)
    brazil = next(v for v in everything if v.name == "pt-BR")
    assert brazil.language_codes[0] == "pt-BR"
    assert len({v.name for v in everything}) == len(everything)  # names are unique


@pytest.mark.parametrize(
    ("code", "tag"),
    [("es", "es"), ("en-us", "en-US"), ("pt-br", "pt-BR"), ("es-419", "es-419"),
     ("en-gb-x-rp", "en-GB-x-rp"), ("sr-latn", "sr-Latn")],
)  # fmt: skip
def test_espeak_codes_map_to_bcp47(code: str, tag: str) -> None:
    assert espeak_to_bcp47(code) == tag


def test_voice_selection_by_language(tts: EspeakVoiceSynth) -> None:
    assert tts.voice_for("en") == "en-US"
    assert tts.voice_for("en-GB") in {"en", "en-GB"}
    assert tts.voice_for("es") == "es"
    assert tts.voice_for("es-MX") == "es-419"
    assert tts.voice_for("pt-BR") == "pt-BR"
    assert tts.voice_for(None) == "en-US"
    with pytest.raises(UnknownLanguageError, match="'xx'"):
        tts.voice_for("xx")


def test_explicit_voice_and_variant(tts: EspeakVoiceSynth) -> None:
    plain = tts.synthesize("Hello there.", voice="en-US")
    female = tts.synthesize("Hello there.", voice="en-US+f3")
    assert plain.rms() > 0.02 and female.rms() > 0.02
    assert not np.array_equal(plain.samples[:2000], female.samples[:2000])
    with pytest.raises(InputError, match="no voice named 'no-such-voice'"):
        tts.synthesize("Hello", voice="no-such-voice")


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(InputError, match="pitch"):
        EspeakVoiceSynth(pitch=300)
    with pytest.raises(InputError, match="words_per_minute"):
        EspeakVoiceSynth(words_per_minute=10)
    with pytest.raises(InputError, match="rate"):
        EspeakVoiceSynth().synthesize("hi", language="en", rate=0)


def test_two_threads_synthesise_at_once(tts: EspeakVoiceSynth) -> None:
    expected = {
        "en": tts.synthesize("Good morning, everybody.", language="en"),
        "es": tts.synthesize("Buenos días a todos.", language="es"),
    }
    results: dict[str, list[AudioClip]] = {"en": [], "es": []}
    errors: list[BaseException] = []

    def work(lang: str, text: str) -> None:
        try:
            for _ in range(5):
                results[lang].append(tts.synthesize(text, language=lang))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [
        threading.Thread(target=work, args=("en", "Good morning, everybody.")),
        threading.Thread(target=work, args=("es", "Buenos días a todos.")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for lang, clips in results.items():
        assert len(clips) == 5
        # espeak-ng varies a clip's length by a few samples from call to call; a clip
        # that got the other thread's speech mixed in would be ~twice as long.
        for c in clips:
            assert c.duration_s == pytest.approx(expected[lang].duration_s, abs=0.01)
            assert c.rms() == pytest.approx(expected[lang].rms(), rel=0.05)


def test_registry_builds_it_with_options() -> None:
    tts = registry.resolve("voice", "espeak", sample_rate_hz=16000)
    assert isinstance(tts, EspeakVoiceSynth) and tts.sample_rate_hz == 16000


def test_import_has_no_side_effects() -> None:
    code = (
        "import sys, lipdub.voice.espeak as e; "
        "assert e._LIB is None and e._VOICES is None; "
        "assert 'onnxruntime' not in sys.modules and 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
