"""DubbingPipeline end to end with lipdub.testing fakes on generated clips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lipdub import DubbingPipeline
from lipdub.dub import DubOptions, FitOptions, speak_transcript, subtitle_cues
from lipdub.errors import (
    MediaError,
    NoSpeechError,
    PipelineError,
    TimingFitError,
    UnknownLanguageError,
)
from lipdub.events import EventRecorder
from lipdub.testing import FakeFaceDetector, FakeTranscriber, FakeVoiceSynth
from lipdub.types import AudioClip, Segment, Transcript

TEXTS = ["Hello there, my friend.", "How are you today?"]


def _pipeline(**overrides: object) -> DubbingPipeline:
    parts: dict[str, object] = {
        "transcriber": FakeTranscriber.from_texts(TEXTS, start_s=0.5, segment_s=1.6, gap_s=0.6),
        "translator": "fake",
        "voice": "fake",
        "detector": FakeFaceDetector(),
        "lipsyncer": "passthrough",
    }
    parts.update(overrides)
    return DubbingPipeline(**parts)  # type: ignore[arg-type]


@pytest.fixture
def clip(make_video) -> Path:  # type: ignore[no-untyped-def]
    return make_video("talk.mp4", duration_s=5.0, fps=25)


def test_full_dub_keeps_duration_and_timing(clip: Path, tmp_path: Path) -> None:
    from lipdub.media import load_audio, probe

    pipe = _pipeline()
    rec = EventRecorder()
    out = tmp_path / "talk.es.mp4"
    result = pipe.run(clip, "es", out, on_event=rec)

    src, dst = probe(clip), probe(out)
    assert dst.has_audio
    assert abs(dst.frame_count - src.frame_count) <= 1
    assert abs(dst.duration_s - src.duration_s) <= 1 / 25 + 1e-6
    assert abs(load_audio(out).duration_s - src.duration_s) <= 0.05
    assert result.timing is not None
    for timing, seg in zip(result.timing.segments, result.source.segments, strict=True):
        assert abs(timing.start_s - seg.start_s) <= 0.1
    assert [s.text for s in result.translation.segments] == [f"[es] {t}" for t in TEXTS]
    srt = out.with_name("talk.es.srt")
    assert out.with_name("talk.en.srt") in result.subtitles
    assert srt in result.subtitles and "[es] Hello there" in srt.read_text()
    # only the frames inside the dubbed speech went through the lip-syncer
    synced = pipe.components["lipsyncer"].frames_synced
    assert 0 < synced < src.frame_count
    assert result.frames_synced == synced
    assert set(rec.stages()) >= {"extract", "transcribe", "translate", "speak", "mix", "lipsync"}
    manifest = json.loads((result.workdir / "manifest.json").read_text())
    assert manifest["meta"]["backends"]["voice"] == "fake"


def test_editing_the_translation_redoes_only_dependent_stages(clip: Path, tmp_path: Path) -> None:
    transcriber = FakeTranscriber.from_texts(TEXTS, start_s=0.5, segment_s=1.6, gap_s=0.6)
    voice = FakeVoiceSynth()
    pipe = _pipeline(transcriber=transcriber, voice=voice)
    out = tmp_path / "o.mp4"
    first = pipe.run(clip, "es", out)
    assert transcriber.calls == 1 and "lipsync" in first.ran

    again = pipe.run(clip, "es", out)
    assert set(again.reused) == {
        "extract",
        "transcribe",
        "translate",
        "speak",
        "quality",
        "separate",
        "mix",
        "track",
        "lipsync",
        "subtitles",
    }
    assert again.ran == ()

    path = first.workdir / "translation.es.json"
    data = json.loads(path.read_text())
    data["segments"][1]["text"] = "¿Qué tal?"
    path.write_text(json.dumps(data, ensure_ascii=False))
    spoken_before = len(voice.calls)
    edited = pipe.run(clip, "es", out)
    assert edited.yours == ("translate",)
    assert set(edited.reused) == {"extract", "transcribe", "separate", "track"}
    assert set(edited.ran) == {"speak", "quality", "mix", "lipsync", "subtitles"}
    assert transcriber.calls == 1
    assert edited.translation is not None and edited.translation.segments[1].text == "¿Qué tal?"
    # the unchanged first segment came from the per-utterance cache
    new_calls = [c[0] for c in voice.calls[spoken_before:]]
    assert new_calls and set(new_calls) == {"¿Qué tal?"}


def test_editing_the_srt_copy_is_picked_up(clip: Path, tmp_path: Path) -> None:
    pipe = _pipeline()
    first = pipe.run(clip, "es", tmp_path / "o.mp4", stop_after="translate")
    assert first.output is None
    srt = first.workdir / "translation.es.srt"
    srt.write_text(srt.read_text().replace("[es] How are you today?", "¿Cómo estás?"))
    result = pipe.run(clip, "es", tmp_path / "o.mp4", stop_after="speak")
    assert result.translation is not None
    assert result.translation.segments[1].text == "¿Cómo estás?"
    assert "translate" in result.yours and "speak" in result.ran
    assert result.dub_audio is not None and result.dub_audio.exists()


class _Boom(FakeVoiceSynth):
    def __init__(self) -> None:
        super().__init__()
        self.armed = True

    def synthesize(self, text, *, voice=None, language=None, rate=1.0):  # type: ignore[no-untyped-def]
        if self.armed and "How" in text:
            raise RuntimeError("the voice service fell over")
        return super().synthesize(text, voice=voice, language=language, rate=rate)


def test_a_failed_stage_leaves_no_output_and_the_rerun_resumes(clip: Path, tmp_path: Path) -> None:
    voice = _Boom()
    transcriber = FakeTranscriber.from_texts(TEXTS, start_s=0.5, segment_s=1.6, gap_s=0.6)
    pipe = _pipeline(voice=voice, transcriber=transcriber)
    out = tmp_path / "o.mp4"
    with pytest.raises(PipelineError, match=r"'speak' stage.*voice service fell over") as info:
        pipe.run(clip, "es", out)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert not out.exists()
    assert not list(tmp_path.glob(".o.mp4*"))  # no temporary leftovers
    voice.armed = False
    result = pipe.run(clip, "es", out)
    assert out.exists() and transcriber.calls == 1
    assert {"transcribe", "translate"} <= set(result.reused)


def test_bad_inputs_give_typed_errors(make_video, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pipe = _pipeline()
    audio_only = AudioClip(np.zeros(16000, np.float32), 16000).save_wav(tmp_path / "a.wav")
    with pytest.raises(MediaError):
        pipe.run(audio_only, "es")
    silent = make_video("silent.mp4", duration_s=1.0, audio=False)
    with pytest.raises(MediaError, match="without an audio track"):
        pipe.run(silent, "es")
    clip = make_video("c.mp4", duration_s=1.0)
    with pytest.raises(UnknownLanguageError, match="'xx'"):
        pipe.run(clip, "xx")
    nothing = _pipeline(transcriber=FakeTranscriber(Transcript("en", ())))
    with pytest.raises(NoSpeechError):
        nothing.run(clip, "es", tmp_path / "n.mp4")
    with pytest.raises(NoSpeechError):
        pipe.run(clip, "es", tmp_path / "n.mp4", text="   ")


def test_a_video_without_any_face_is_a_typed_error_unless_allowed(
    make_video, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from lipdub.errors import NoFaceError
    from lipdub.testing import BrightRegionDetector

    clip = make_video("noface.mp4", duration_s=5.0, face="none")  # both lines fit in 5 s
    pipe = _pipeline(detector=BrightRegionDetector(threshold=200))
    with pytest.raises(NoFaceError, match="125 frames"):
        pipe.run(clip, "es", tmp_path / "x.mp4")
    assert not (tmp_path / "x.mp4").exists()
    result = pipe.run(clip, "es", tmp_path / "x.mp4", options=DubOptions(allow_no_face=True))
    assert result.output is not None and result.output.exists()
    assert result.frames_synced == 0


def test_the_face_track_is_cached_across_target_languages(clip: Path, tmp_path: Path) -> None:
    detector = FakeFaceDetector()
    pipe = _pipeline(detector=detector)
    pipe.run(clip, "es", tmp_path / "es.mp4")
    seen = detector.frames_seen
    assert seen > 0
    result = pipe.run(clip, "fr", tmp_path / "fr.mp4")
    assert detector.frames_seen == seen
    assert "track" in result.reused and "lipsync" in result.ran


def test_still_image_speaks_the_given_text(tmp_path: Path) -> None:
    from lipdub.media import probe
    from lipdub.testing.media import make_portrait

    img = make_portrait(tmp_path / "face.png")
    pipe = _pipeline()
    result = pipe.run(
        img, "es", tmp_path / "face.es.mp4", text="uno dos tres cuatro", source_language="es"
    )
    info = probe(result.output)  # type: ignore[arg-type]
    # FakeVoiceSynth: 4 words x 0.3 s
    assert abs(info.duration_s - 1.2) <= 1 / 25 + 0.02
    assert (
        result.translation is not None
        and result.translation.segments[0].text == "uno dos tres cuatro"
    )


# ------------------------------------------------------------------ timing fit


def test_timing_fit_uses_rate_then_stretch_then_gap() -> None:
    voice = FakeVoiceSynth(seconds_per_word=0.3)
    t = Transcript(
        "es",
        (
            Segment(0.0, 1.0, "uno dos tres"),  # 0.9 s natural: fits, slowed slightly
            Segment(2.0, 2.5, "uno dos tres"),  # 0.9 s into 0.5 s: rate 1.2, then the gaps
            Segment(2.9, 3.4, "a b c d e f g h"),  # 2.4 s into 0.5 s: too long, cut
        ),
    )
    with pytest.raises(TimingFitError, match="3 \\('a b c d"):
        speak_transcript(voice, t, total_s=4.0)
    track, report = speak_transcript(voice, t, total_s=4.0, allow_truncation=True)
    first, second, third = report.segments
    assert first.start_s == 0.0 and first.rate == pytest.approx(0.9, abs=0.01)
    assert second.rate == pytest.approx(1.2) and second.speech_s == pytest.approx(
        0.9 / 1.2, abs=0.01
    )
    # 0.1 s before its start and 0.15 s after its slot, up to where the third may start
    assert second.borrowed_s == pytest.approx(0.25, abs=1e-3) and second.overflow_s == 0
    assert third.overflow_s > 0 and report.overflowing == report.cut == [third]
    assert third.speed == pytest.approx(1.2, abs=0.005)
    assert track.duration_s == pytest.approx(4.0)  # the video length wins
    assert [s.start_s for s in report.segments] == pytest.approx([0.0, 1.9, 2.75])


def test_timing_fit_stretches_voices_without_a_native_rate() -> None:
    class NoRate(FakeVoiceSynth):
        native_rate = False

    report = speak_transcript(
        NoRate(), Transcript("es", (Segment(0.0, 0.75, "uno dos tres"),)), options=FitOptions()
    )[1]
    seg = report.segments[0]
    assert seg.rate == 1.0 and seg.stretch == pytest.approx(1.2, abs=0.01)
    assert seg.speech_s == pytest.approx(0.75, abs=0.02)


def test_subtitle_cues_wrap_and_split() -> None:
    long = " ".join(["palabra"] * 30)
    cues = subtitle_cues(Transcript("es", (Segment(0, 6, long),)), max_chars_per_line=42)
    assert len(cues) > 1
    for cue in cues.segments:
        assert all(len(line) <= 42 for line in cue.text.split("\n"))
        assert len(cue.text.split("\n")) <= 2
    assert cues.segments[0].start_s == 0 and cues.segments[-1].end_s == 6


def test_remix_keeps_background_outside_speech_and_never_clips() -> None:
    from lipdub.dub import remix
    from lipdub.separate.duck import DuckingSeparator

    rate = 16000
    t = np.arange(rate * 3) / rate
    original = AudioClip((0.9 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), rate)
    speech = AudioClip((0.9 * np.sin(2 * np.pi * 500 * t)).astype(np.float32), rate).pad_to(3.0)
    out = remix(speech, original, source_speech_spans=[(1.0, 2.0)], separator=DuckingSeparator())
    assert np.max(np.abs(out.samples)) <= 0.98 + 1e-6
    assert out.duration_s == pytest.approx(3.0)


def test_dub_options_validate() -> None:
    with pytest.raises(ValueError, match="subtitle"):
        DubOptions(subtitles=("ass",))
    with pytest.raises(ValueError, match="min_rate"):
        FitOptions(min_rate=1.5)


def test_speakers_get_their_own_voices() -> None:
    voice = FakeVoiceSynth()
    t = Transcript(
        "es",
        (
            Segment(0.0, 1.0, "hola", speaker="A"),
            Segment(1.5, 2.5, "adiós", speaker="B"),
            Segment(3.0, 4.0, "sin etiqueta"),
        ),
    )
    _, report = speak_transcript(voice, t, voice="default", voice_map={"A": "va", "B": "vb"})
    assert [s.voice for s in report.segments] == ["va", "vb", "default"]
    assert {c[1] for c in voice.calls} == {"va", "vb", "default"}


def test_transcriber_progress_reaches_the_callers_callback(clip: Path, tmp_path: Path) -> None:
    from lipdub.events import Progress, emit

    class Reporting(FakeTranscriber):
        def transcribe(self, audio, language=None, *, on_event=None):  # type: ignore[no-untyped-def]
            emit(on_event, Progress("transcribe", 1.0, 1.0, "s"))
            return super().transcribe(audio, language)

    transcriber = Reporting.from_texts(TEXTS)
    rec = EventRecorder()
    before = {k: v for k, v in vars(transcriber).items() if k != "calls"}
    _pipeline(transcriber=transcriber).run(
        clip, "es", tmp_path / "o.mp4", stop_after="transcribe", on_event=rec
    )
    assert [e for e in rec.of_type(Progress) if e.stage == "transcribe"]
    assert {k: v for k, v in vars(transcriber).items() if k != "calls"} == before


def test_the_work_directory_records_the_registry_name_asked_for() -> None:
    """A backend registered under another name than its ``name`` (``wav2lip_gan`` is a
    ``Wav2LipSyncer`` named ``wav2lip``) is recorded by the name a later run resolves."""
    from lipdub import registry
    from lipdub.testing import FakeVoiceSynth

    registry.register("voice", "voice-under-another-name", FakeVoiceSynth, replace=True)
    pipe = DubbingPipeline(voice="voice-under-another-name", translator=("fake", {}))
    pipe.component("voice")
    pipe.component("translator")
    assert pipe.component("voice").name == "fake"
    recorded = pipe.resolved_backends()
    assert recorded["voice"] == "voice-under-another-name"
    assert recorded["translator"] == "fake"
    assert DubbingPipeline(voice=FakeVoiceSynth()).resolved_backends() == {}
