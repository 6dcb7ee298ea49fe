"""The work directory keeps the user's work: every way a person edits, deletes or re-runs.

Each test runs the real pipeline (lipdub.testing fakes for the models) on a generated
clip, edits the work directory as a person would, and checks what the next run did.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from lipdub import DubbingPipeline
from lipdub.dub.runner import component_identity
from lipdub.errors import Cancelled, EditConflict, InputError
from lipdub.events import Event, Progress
from lipdub.testing import (
    FakeFaceDetector,
    FakeTranscriber,
    FakeTranslator,
    FakeVoiceSynth,
    PassThroughLipSyncer,
)
from lipdub.types import AudioClip, Transcript

TEXTS = ["Hello there, my friend.", "How are you today?"]


def _pipeline(**overrides: object) -> DubbingPipeline:
    parts: dict[str, object] = {
        "transcriber": FakeTranscriber.from_texts(TEXTS, start_s=0.3, segment_s=1.0, gap_s=0.4),
        "translator": FakeTranslator(),
        "voice": FakeVoiceSynth(seconds_per_word=0.15),
        "detector": FakeFaceDetector(),
        "lipsyncer": PassThroughLipSyncer(),
    }
    parts.update(overrides)
    return DubbingPipeline(**parts)  # type: ignore[arg-type]


@pytest.fixture
def clip(make_video) -> Path:  # type: ignore[no-untyped-def]
    return make_video("talk.mp4", duration_s=3.0, fps=25)


def _edit_json(path: Path, index: int, text: str) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    data["segments"][index]["text"] = text
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def _edit_srt(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


# --------------------------------------------------------------------------- edits kept


@pytest.mark.parametrize("copy", ["json", "srt"])
def test_a_language_switch_keeps_the_edited_translation(
    clip: Path, tmp_path: Path, copy: str
) -> None:
    pipe = _pipeline()
    wd = tmp_path / "wd"
    pipe.run(clip, "es", workdir=wd, stop_after="translate")
    if copy == "json":
        _edit_json(wd / "translation.es.json", 1, "¿Qué tal, amigo?")
    else:
        _edit_srt(wd / "translation.es.srt", "[es] How are you today?", "¿Qué tal, amigo?")
    edited = (wd / f"translation.es.{copy}").read_bytes()

    pipe.run(clip, "fr", workdir=wd, stop_after="translate")
    back = pipe.run(clip, "es", workdir=wd, stop_after="speak")

    assert back.translation is not None
    assert back.translation.segments[1].text == "¿Qué tal, amigo?"
    assert (wd / f"translation.es.{copy}").read_bytes() == edited
    assert back.yours == ("translate",) and "speak" in back.ran
    assert (wd / "translation.fr.json").exists()  # both languages live side by side


def test_adding_the_source_language_is_a_new_key_and_keeps_the_edited_transcript(
    clip: Path, tmp_path: Path
) -> None:
    """The transcribe key holds the language asked for (a declared setting), never the one
    a manifest recorded: asking for ``en`` after a detecting run is a change under the
    user's edit, so the run stops without touching it; ``keep`` then uses the edit."""
    transcriber = FakeTranscriber.from_texts(TEXTS, start_s=0.3, segment_s=1.0, gap_s=0.4)
    pipe = _pipeline(transcriber=transcriber)
    wd = tmp_path / "wd"
    pipe.run(clip, "es", workdir=wd, stop_after="transcribe")
    _edit_json(wd / "transcript.en.json", 0, "Hello there, dear friend.")
    edited = (wd / "transcript.en.json").read_bytes()

    with pytest.raises(EditConflict, match="--keep transcribe"):
        pipe.run(clip, "es", workdir=wd, source_language="en", stop_after="translate")
    assert (wd / "transcript.en.json").read_bytes() == edited
    result = pipe.run(
        clip, "es", workdir=wd, source_language="en", stop_after="translate", keep=["transcribe"]
    )

    assert transcriber.calls == 1
    assert result.source.segments[0].text == "Hello there, dear friend."
    assert result.translation is not None
    assert result.translation.segments[0].text == "[es] Hello there, dear friend."


@pytest.mark.parametrize("copy", ["json", "srt"])
@pytest.mark.parametrize("damage", ["delete", "garbage", "truncate", "wrong-shape"])
def test_a_lost_manifest_keeps_both_edits(
    clip: Path, tmp_path: Path, damage: str, copy: str
) -> None:
    pipe = _pipeline()
    wd = tmp_path / "wd"
    pipe.run(clip, "es", workdir=wd, stop_after="speak")
    _edit_json(wd / "transcript.en.json", 0, "Hello there, dear friend.")
    if copy == "json":
        _edit_json(wd / "translation.es.json", 1, "¿Qué tal, amigo?")
    else:
        srt = wd / "translation.es.srt"
        _edit_srt(srt, "[es] How are you today?", "¿Qué tal, amigo?")
        later = (wd / "translation.es.json").stat().st_mtime_ns + 1_000_000_000
        os.utime(srt, ns=(later, later))  # the SRT was edited after the JSON was written
    manifest = wd / "manifest.json"
    if damage == "delete":
        manifest.unlink()
    elif damage == "garbage":
        manifest.write_bytes(b"\x00\xff not json")
    elif damage == "truncate":
        manifest.write_text(manifest.read_text()[:40])
    else:
        manifest.write_text('{"version": 2, "stages": []}')

    result = pipe.run(clip, "es", workdir=wd, stop_after="speak")

    assert result.source.segments[0].text == "Hello there, dear friend."
    assert result.translation is not None
    assert result.translation.segments[1].text == "¿Qué tal, amigo?"
    assert set(result.yours) == {"transcribe", "translate"}
    assert any("not written by lipdub" in n for n in result.notices)
    if damage != "delete":  # the damaged file is kept for inspection, not deleted
        assert list(wd.glob("manifest.json.damaged-*"))


def test_text_input_keeps_the_edited_transcript(tmp_path: Path) -> None:
    from lipdub.testing.media import make_portrait

    image = make_portrait(tmp_path / "face.png")
    pipe = _pipeline()
    wd = tmp_path / "wd"
    first = pipe.run(image, "es", workdir=wd, text="Hello, and welcome!", stop_after="transcribe")
    path = first.workdir / "transcript.es.json"
    _edit_json(path, 0, "Hola y bienvenidos.")
    again = pipe.run(image, "es", workdir=wd, text="Hello, and welcome!", stop_after="transcribe")
    assert again.source.segments[0].text == "Hola y bienvenidos."
    assert again.yours == ("transcribe",)


def test_a_translation_placed_before_the_stage_ran_is_used(clip: Path, tmp_path: Path) -> None:
    pipe = _pipeline()
    wd = tmp_path / "wd"
    first = pipe.run(clip, "es", workdir=wd, stop_after="transcribe")
    mine = first.source.with_texts(["Hola, amigo mío.", "¿Cómo estás hoy?"], language="es")
    mine.save(wd / "translation.es.json")
    placed = (wd / "translation.es.json").read_bytes()

    result = pipe.run(clip, "es", workdir=wd, stop_after="translate")

    assert result.translation is not None
    assert [s.text for s in result.translation.segments] == [s.text for s in mine.segments]
    assert (wd / "translation.es.json").read_bytes() == placed
    assert any("translation.es.json" in n for n in result.notices)


@pytest.mark.parametrize("fmt", ["json", "srt"])
def test_bring_your_own_translation(clip: Path, tmp_path: Path, fmt: str) -> None:
    pipe = _pipeline()
    source = Transcript.load(
        pipe.run(clip, "es", workdir=tmp_path / "a", stop_after="transcribe").source.save(
            tmp_path / "src.json"
        )
    )
    mine = source.with_texts(["Hola, amigo mío.", "¿Cómo estás hoy?"], language="es")
    given = tmp_path / f"mine.{fmt}"
    if fmt == "json":
        mine.save(given)
    else:
        given.write_text(mine.to_srt(), encoding="utf-8")

    result = pipe.run(
        clip, "es", workdir=tmp_path / "wd", translation=given, stop_after="translate"
    )

    assert result.translation is not None
    assert [s.text for s in result.translation.segments] == [s.text for s in mine.segments]
    assert result.yours == ("translate",)
    assert given.exists()  # the user's file is read, not moved


def test_bring_your_own_srt_transcript_needs_its_language(clip: Path, tmp_path: Path) -> None:
    srt = tmp_path / "t.srt"
    srt.write_text("1\n00:00:00,300 --> 00:00:01,300\nHi there.\n", encoding="utf-8")
    pipe = _pipeline()
    with pytest.raises(InputError, match="language"):
        pipe.run(clip, "es", workdir=tmp_path / "wd", transcript=srt, stop_after="transcribe")
    result = pipe.run(
        clip,
        "es",
        workdir=tmp_path / "wd",
        transcript=srt,
        source_language="en",
        stop_after="translate",
    )
    assert result.source.segments[0].text == "Hi there."
    assert result.translation is not None
    assert result.translation.segments[0].text == "[es] Hi there."


# --------------------------------------------------------------------------- conflicts


def test_an_upstream_change_under_an_edit_stops_and_names_the_file(
    clip: Path, tmp_path: Path
) -> None:
    pipe = _pipeline()
    wd = tmp_path / "wd"
    pipe.run(clip, "es", workdir=wd, stop_after="translate")
    _edit_json(wd / "translation.es.json", 1, "¿Qué tal, amigo?")
    edited = (wd / "translation.es.json").read_bytes()
    _edit_json(wd / "transcript.en.json", 0, "Good evening, my friend.")

    with pytest.raises(EditConflict) as info:
        pipe.run(clip, "es", workdir=wd, stop_after="speak")
    err = info.value
    assert Path(str(err.path)) == wd / "translation.es.json"
    assert "--keep translate" in str(err) and "--redo translate" in str(err)
    assert "\n" not in str(err)
    assert (wd / "translation.es.json").read_bytes() == edited
    assert not (wd / "speech.es.wav").exists()

    kept = pipe.run(clip, "es", workdir=wd, keep=["translate"], stop_after="translate")
    assert kept.translation is not None
    assert kept.translation.segments[1].text == "¿Qué tal, amigo?"
    assert kept.translation.segments[0].text == "[es] Hello there, my friend."
    # once kept, the edit stays the user's and later runs use it without asking
    again = pipe.run(clip, "es", workdir=wd, stop_after="translate")
    assert again.yours == ("transcribe", "translate")  # both files are the user's now

    _edit_json(wd / "transcript.en.json", 0, "Good night, my friend.")
    redone = pipe.run(clip, "es", workdir=wd, redo=["translate"], stop_after="translate")
    assert redone.translation is not None
    assert redone.translation.segments[0].text == "[es] Good night, my friend."
    assert redone.translation.segments[1].text == "[es] How are you today?"
    backups = list(wd.glob("translation.es.json.*.bak"))
    assert len(backups) == 1 and backups[0].read_bytes() == edited


def test_a_new_transcriber_option_does_not_overwrite_an_edited_transcript(
    clip: Path, tmp_path: Path
) -> None:
    wd = tmp_path / "wd"
    _pipeline().run(clip, "es", workdir=wd, stop_after="transcribe")
    _edit_json(wd / "transcript.en.json", 0, "Hello there, dear friend.")
    edited = (wd / "transcript.en.json").read_bytes()
    other = FakeTranscriber.from_texts(["Something else."], start_s=0.3)
    with pytest.raises(EditConflict, match=r"transcript\.en\.json"):
        _pipeline(transcriber=other).run(clip, "es", workdir=wd, stop_after="transcribe")
    assert (wd / "transcript.en.json").read_bytes() == edited


def test_no_resume_moves_edits_aside_before_redoing(clip: Path, tmp_path: Path) -> None:
    pipe = _pipeline()
    wd = tmp_path / "wd"
    pipe.run(clip, "es", workdir=wd, stop_after="translate")
    _edit_json(wd / "translation.es.json", 1, "¿Qué tal, amigo?")
    edited = (wd / "translation.es.json").read_bytes()
    result = pipe.run(clip, "es", workdir=wd, resume=False, stop_after="translate")
    assert "translate" in result.ran
    backups = list(wd.glob("translation.es.json.*.bak"))
    assert [b.read_bytes() for b in backups] == [edited]


# --------------------------------------------------------------------------- outputs


def test_a_damaged_output_is_redone(clip: Path, tmp_path: Path) -> None:
    from lipdub.media import probe

    pipe = _pipeline()
    out = tmp_path / "talk.es.mp4"
    pipe.run(clip, "es", out, workdir=tmp_path / "wd")
    again = pipe.run(clip, "es", out, workdir=tmp_path / "wd")
    assert "lipsync" in again.reused

    size = out.stat().st_size
    out.write_bytes(os.urandom(size))  # same size, junk content
    redone = pipe.run(clip, "es", out, workdir=tmp_path / "wd")
    assert "lipsync" in redone.ran
    assert probe(out).frame_count == probe(clip).frame_count

    good = (tmp_path / "wd" / "dub.es.wav").read_bytes()
    (tmp_path / "wd" / "dub.es.wav").write_bytes(b"RIFF junk")
    redone = pipe.run(clip, "es", out, workdir=tmp_path / "wd")
    # the mix is remade byte for byte, so the video made from it still holds
    assert "mix" in redone.ran and "lipsync" in redone.reused
    assert (tmp_path / "wd" / "dub.es.wav").read_bytes() == good


@pytest.mark.parametrize("how", ["same", "relative", "symlink", "hardlink"])
def test_the_input_is_never_the_output(clip: Path, tmp_path: Path, how: str) -> None:
    before = clip.read_bytes()
    if how == "same":
        out = clip
    elif how == "relative":
        out = clip.parent / "." / clip.name
    elif how == "symlink":
        out = tmp_path / "link.mp4"
        out.symlink_to(clip)
    else:
        out = tmp_path / "hard.mp4"
        os.link(clip, out)
    with pytest.raises(InputError, match="overwrite the input"):
        _pipeline().run(clip, "es", out, workdir=tmp_path / "wd")
    assert clip.read_bytes() == before

    from lipdub.lipsync.engine import lipsync

    with pytest.raises(InputError, match="overwrite an input"):
        lipsync(clip, AudioClip.silence(1.0, 16000), out, syncer=PassThroughLipSyncer())
    assert clip.read_bytes() == before


def test_the_cli_refuses_an_output_equal_to_the_input(
    clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lipdub.cli import main

    before = clip.read_bytes()
    common = ["--transcriber", "fake", "--translator", "fake", "--tts", "fake"]
    assert main(["dub", str(clip), "--to", "es", "-o", str(clip), *common, "-q"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "overwrite the input" in err[0]
    wav = clip.with_suffix(".wav")
    AudioClip.silence(1.0, 16000).save_wav(wav)
    args = ["lipsync", "--face", str(clip), "--audio", str(wav), "-o", str(clip)]
    assert main([*args, "--checkpoint", "nope.pth"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "overwrite" in err[0]
    assert clip.read_bytes() == before


# --------------------------------------------------------------------------- keys


class GlossaryTranslator(FakeTranslator):
    """A translator with a dict option that changes its output."""

    def __init__(self, glossary: dict[str, str]) -> None:
        super().__init__()
        self.glossary = dict(glossary)

    def settings(self) -> dict[str, Any]:
        return {"glossary": dict(self.glossary)}

    def translate(self, texts: Sequence[str], source: str | None, target: str) -> list[str]:
        out = super().translate(texts, source, target)
        for old, new in self.glossary.items():
            out = [t.replace(old, new) for t in out]
        return out


def test_a_dict_option_of_the_translator_invalidates_the_translation(
    clip: Path, tmp_path: Path
) -> None:
    wd = tmp_path / "wd"
    first = _pipeline(translator=GlossaryTranslator({"friend": "amigo"})).run(
        clip, "es", workdir=wd, stop_after="translate"
    )
    assert first.translation is not None
    assert first.translation.segments[0].text == "[es] Hello there, my amigo."
    same = _pipeline(translator=GlossaryTranslator({"friend": "amigo"})).run(
        clip, "es", workdir=wd, stop_after="translate"
    )
    assert "translate" in same.reused
    other = _pipeline(translator=GlossaryTranslator({"friend": "compañero"})).run(
        clip, "es", workdir=wd, stop_after="translate"
    )
    assert "translate" in other.ran
    assert other.translation is not None
    assert other.translation.segments[0].text == "[es] Hello there, my compañero."


def test_settings_never_hold_tokens_or_devices() -> None:
    from lipdub.transcribe.whisper import WhisperTranscriber

    a = WhisperTranscriber("tiny", device="cpu", token="hf_first", cache_dir="/tmp/a")
    b = WhisperTranscriber("tiny", device="auto", token="hf_rotated", cache_dir="/tmp/b")
    assert component_identity(a) == component_identity(b)
    assert "hf_" not in json.dumps(component_identity(a))
    c = WhisperTranscriber("base", device="cpu")
    assert component_identity(a) != component_identity(c)


# --------------------------------------------------------------------------- several languages


def test_several_languages_share_transcription_separation_and_track(
    clip: Path, tmp_path: Path
) -> None:
    transcriber = FakeTranscriber.from_texts(TEXTS, start_s=0.3, segment_s=1.0, gap_s=0.4)
    detector = FakeFaceDetector()
    pipe = _pipeline(transcriber=transcriber, detector=detector)
    results = pipe.run(clip, ["es", "fr"], str(tmp_path / "talk.{lang}.mp4"))
    assert [r.output for r in results] == [tmp_path / "talk.es.mp4", tmp_path / "talk.fr.mp4"]
    assert all(r.output is not None and r.output.exists() for r in results)
    assert transcriber.calls == 1
    seen = detector.frames_seen
    assert results[1].translation is not None
    assert results[1].translation.segments[0].text.startswith("[fr]")
    again = pipe.run(clip, ["es", "fr"], str(tmp_path / "talk.{lang}.mp4"))
    assert all(r.ran == () for r in again)
    assert transcriber.calls == 1 and detector.frames_seen == seen
    with pytest.raises(InputError, match="lang"):
        pipe.run(clip, ["es", "fr"], tmp_path / "one.mp4")


# --------------------------------------------------------------------------- cancel


class Gate:
    """Work units of a component, and a cancel that another thread sets at a chosen unit.

    No wall clock: once ``arm_at`` units are done, the component waits (on the cancel
    event itself) until the other thread has set it, and every unit after that is
    counted. The test then asserts how many units ran after the cancel.
    """

    def __init__(self, cancel: threading.Event, arm_at: int = 2) -> None:
        self.cancel = cancel
        self.arm_at = arm_at
        self.units = 0
        self.after_cancel = 0
        self.armed = threading.Event()

    def unit(self) -> None:
        if self.cancel.is_set():
            self.after_cancel += 1
        self.units += 1
        if self.units >= self.arm_at:
            self.armed.set()
            # the canceller thread runs now; never wait long if the test is broken
            self.cancel.wait(10)


class SlowTranscriber(FakeTranscriber):
    """Reports a progress point per work unit, ``steps`` of them, before answering."""

    def __init__(self, gate: Gate, steps: int = 400) -> None:
        super().__init__(
            FakeTranscriber.from_texts(TEXTS, start_s=0.3, segment_s=1.0, gap_s=0.4).transcript
        )
        self.gate = gate
        self.steps = steps

    def transcribe(
        self, audio: AudioClip, language: str | None = None, *, on_event: Any = None
    ) -> Transcript:
        for i in range(self.steps):
            self.gate.unit()
            if on_event is not None:
                on_event(Progress("transcribe", i + 1, self.steps, "steps"))
        return super().transcribe(audio, language)


class SlowVoice(FakeVoiceSynth):
    def __init__(self, gate: Gate, seconds_per_word: float) -> None:
        super().__init__(seconds_per_word)
        self.gate = gate

    def synthesize(self, text: str, **kwargs: Any) -> AudioClip:
        self.gate.unit()
        return super().synthesize(text, **kwargs)


class SlowLipSyncer(PassThroughLipSyncer):
    def __init__(self, gate: Gate) -> None:
        super().__init__()
        self.gate = gate

    def sync(self, faces: Any, mels: Any) -> Any:
        self.gate.unit()
        return super().sync(faces, mels)


def _cancel_from_another_thread(gate: Gate) -> threading.Thread:
    """A thread that sets the cancel as soon as the gate is armed."""

    def fire() -> None:
        if gate.armed.wait(30):
            gate.cancel.set()

    thread = threading.Thread(target=fire, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("stage", ["transcribe", "speak", "lipsync"])
def test_a_run_cancelled_from_another_thread_stops_soon_and_resumes(
    make_video,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    stage: str,
) -> None:
    clip = make_video("long.mp4", duration_s=8.0, fps=25)
    texts = [f"Sentence number {i} is spoken here." for i in range(8)]

    def transcriber() -> FakeTranscriber:
        return FakeTranscriber.from_texts(texts, start_s=0.2, segment_s=0.8, gap_s=0.15)

    cancel = threading.Event()
    gate = Gate(cancel)
    slow = _pipeline(
        transcriber=SlowTranscriber(gate) if stage == "transcribe" else transcriber(),
        voice=SlowVoice(gate, 0.1) if stage == "speak" else FakeVoiceSynth(0.1),
        lipsyncer=SlowLipSyncer(gate) if stage == "lipsync" else PassThroughLipSyncer(),
    )
    out = tmp_path / "long.es.mp4"
    wd = tmp_path / "wd"
    canceller = _cancel_from_another_thread(gate)
    with pytest.raises(Cancelled):
        slow.run(clip, "es", out, workdir=wd, cancel=cancel)
    canceller.join(5)
    # it stopped at the next progress point: the unit in flight, at most one more (the
    # lip-sync engine's batches run ahead of its progress points, which come every 25
    # frames: there the check is that the video was never written)
    if stage != "lipsync":
        assert gate.after_cancel <= 2, f"{gate.after_cancel} units ran after the cancel"
    assert not out.exists()
    assert not [p for p in tmp_path.rglob("*") if ".tmp" in p.name]

    fast = _pipeline(transcriber=transcriber(), voice=FakeVoiceSynth(0.1))
    result = fast.run(clip, "es", out, workdir=wd)
    assert out.exists() and "extract" in result.reused
    if stage != "transcribe":
        assert "transcribe" in result.reused and "translate" in result.reused


def test_two_pipelines_in_two_threads_stay_independent(make_video, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    clips = [make_video(f"c{i}.mp4", duration_s=2.0, fps=25) for i in range(2)]
    results: dict[int, Any] = {}
    events: dict[int, list[Event]] = {0: [], 1: []}

    def work(i: int) -> None:
        texts = [f"Speaker {i} says hello."]
        pipe = _pipeline(transcriber=FakeTranscriber.from_texts(texts, start_s=0.2))
        results[i] = pipe.run(
            clips[i], ["es", "fr"][i], workdir=tmp_path / f"wd{i}", on_event=events[i].append
        )

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for i, lang in enumerate(["es", "fr"]):
        assert results[i].output.exists()
        assert results[i].translation.segments[0].text == f"[{lang}] Speaker {i} says hello."
        details = {getattr(e, "detail", "") for e in events[i]} - {""}
        assert details <= {lang}


def test_no_component_is_mutated_by_a_run(clip: Path, tmp_path: Path) -> None:
    pipe = _pipeline()
    counters = {"calls", "frames_seen", "frames_synced"}

    def snapshot() -> dict[str, dict[str, Any]]:
        return {
            slot: {k: v for k, v in vars(c).items() if k not in counters}
            for slot, c in pipe.components.items()
        }

    before = snapshot()
    pipe.run(clip, "es", workdir=tmp_path / "wd", on_event=lambda e: None)
    assert snapshot() == before


def test_an_edited_segment_far_past_the_end_is_one_clear_error(clip: Path, tmp_path: Path) -> None:
    wd = tmp_path / "wd"
    _pipeline().run(clip, "es", workdir=wd, stop_after="translate")
    path = wd / "translation.es.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["segments"][1]["start_s"] = 1e7
    data["segments"][1]["end_s"] = 1e7 + 1
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(InputError, match=r"translation\.es\.json.*segment 1"):
        _pipeline().run(clip, "es", workdir=wd, stop_after="speak")
    assert not (wd / "speech.es.wav").exists()


def test_the_srt_copy_follows_an_edited_json(clip: Path, tmp_path: Path) -> None:
    pipe = _pipeline()
    wd = tmp_path / "wd"
    pipe.run(clip, "es", workdir=wd, stop_after="translate")
    _edit_json(wd / "translation.es.json", 1, "¿Qué tal, amigo?")
    pipe.run(clip, "es", workdir=wd, stop_after="translate")
    assert "¿Qué tal, amigo?" in (wd / "translation.es.srt").read_text(encoding="utf-8")
    # a later edit of that SRT copy is the user's edit again, and is used
    _edit_srt(wd / "translation.es.srt", "¿Qué tal, amigo?", "¿Cómo te va?")
    result = pipe.run(clip, "es", workdir=wd, stop_after="translate")
    assert result.translation is not None
    assert result.translation.segments[1].text == "¿Cómo te va?"
    assert "¿Cómo te va?" in (wd / "translation.es.json").read_text(encoding="utf-8")
    # and the JSON edited once more wins again, the SRT copy following it
    _edit_json(wd / "translation.es.json", 0, "Hola, amigo mío.")
    result = pipe.run(clip, "es", workdir=wd, stop_after="translate")
    assert result.translation is not None
    assert [s.text for s in result.translation.segments] == ["Hola, amigo mío.", "¿Cómo te va?"]
    assert "Hola, amigo mío." in (wd / "translation.es.srt").read_text(encoding="utf-8")


@pytest.mark.parametrize("flag", ["--transcript", "--translation"])
@pytest.mark.parametrize("kind", ["utf16", "folder", "missing", "not-json"])
def test_a_bad_file_to_adopt_is_one_line(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, kind: str
) -> None:
    from lipdub.cli import main

    given = tmp_path / "mine.json"
    if kind == "utf16":
        given.write_bytes('{"language": "es", "segments": []}'.encode("utf-16"))
    elif kind == "folder":
        given.mkdir()
    elif kind == "not-json":
        given.write_text("{not json", encoding="utf-8")
    common = ["--transcriber", "fake", "--translator", "fake", "--tts", "fake", "-q"]
    wd = tmp_path / "wd"
    args = ["dub", str(clip), "--to", "es", "--workdir", str(wd), flag, str(given), *common]
    assert main(args) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "mine.json" in err[0]
    assert not (tmp_path / "talk.es.mp4").exists()
