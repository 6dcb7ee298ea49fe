"""Re-runs are idempotent: an identical run does nothing, and a killed run resumes exactly.

* The review-then-resume workflow through the real ``lipdub dub`` (a subprocess, real
  Whisper ``tiny.en`` on espeak-ng speech): ``--stop-after translate``, a hand edit of
  the translation, the same command again -> ``ran: nothing`` and the edit used; the
  review page's "speak again" too; then ``--face active`` re-runs only what it keys.
* Transcription is reproducible (the same bytes from two processes).
* A dub killed (SIGKILL, by itself, at its k-th event) and resumed writes every artifact
  byte for byte as a clean run does.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_en_model_dir

from lipdub import DubbingPipeline
from lipdub.testing import FakeTranscriber, FakeVoiceSynth
from lipdub.types import AudioClip

ROOT = Path(__file__).resolve().parents[1]
_CLI = (
    "import sys, lipdub.testing as t; t.register_fakes(); "
    "from lipdub.cli import main; sys.exit(main(sys.argv[1:]))"
)


def _env(tmp_path: Path) -> dict[str, str]:
    """A child's environment: this checkout first, and an empty, offline model cache."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def _lipdub(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-c", _CLI, *args],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return done


def _line(out: str, head: str) -> set[str]:
    """The stages on the ``ran:``/``reused:`` line of a dub's summary."""
    (line,) = [x for x in out.splitlines() if x.startswith(head)]
    return {s.strip() for s in line.removeprefix(head).split(",")} - {"nothing"}


@pytest.fixture(scope="module")
def speech() -> AudioClip:
    """Two English sentences from espeak-ng, with pauses, at 16 kHz."""
    pytest.importorskip("espeakng_loader")
    from lipdub.voice.espeak import EspeakVoiceSynth

    tts = EspeakVoiceSynth(sample_rate_hz=16000)
    gap = np.zeros(8000, np.float32)
    parts = [gap]
    for sentence in ("Good morning everybody.", "The train is very late today."):
        parts += [np.asarray(tts.synthesize(sentence, language="en").samples), gap]
    return AudioClip(np.concatenate(parts), 16000)


@pytest.fixture(scope="module")
def talk(tmp_path_factory: pytest.TempPathFactory, speech: AudioClip) -> Path:
    """The drawn face speaking ``speech`` (H.264 + AAC)."""
    from lipdub.media import mux_audio
    from lipdub.testing.media import make_test_video

    root = tmp_path_factory.mktemp("talk")
    silent = make_test_video(
        root / "silent.mp4", duration_s=speech.duration_s, size=(160, 120), audio=False
    )
    return mux_audio(silent, speech, root / "talk.mp4")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lipdub.testing.checkpoints import write_random_wav2lip_checkpoint

    return Path(write_random_wav2lip_checkpoint(tmp_path_factory.mktemp("w") / "random.pth"))


def _edit_first_line(path: Path, text: str) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    data["segments"][0]["text"] = text
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")


def test_review_then_resume_runs_nothing_and_uses_the_edit(
    tmp_path: Path, talk: Path, checkpoint: Path
) -> None:
    model = tiny_en_model_dir()
    video = Path(shutil.copy(talk, tmp_path / "talk.mp4"))
    wd = tmp_path / "talk.mp4.lipdub"
    base = ["dub", video.name, "--to", "es", "--from", "en", "-q"]
    base += ["--opt", f"transcriber.model={model}", "--translator", "fake", "--tts", "fake"]
    base += ["--detector", "fake", "--checkpoint", str(checkpoint), "--device", "cpu"]

    first = _lipdub(tmp_path, *base, "--stop-after", "translate")
    assert {"transcribe", "translate"} <= _line(first.stdout, "ran: ")
    transcript = (wd / "transcript.en.json").read_bytes()
    edit = "Buenos días a todos, editado a mano."
    _edit_first_line(wd / "translation.es.json", edit)
    edited = (wd / "translation.es.json").read_bytes()

    again = _lipdub(tmp_path, *base, "--stop-after", "translate")
    assert "ran: nothing" in again.stdout.splitlines()
    assert "your edits used: translate" in again.stdout
    assert not [x for x in again.stderr.splitlines() if x.startswith("error")]
    assert (wd / "transcript.en.json").read_bytes() == transcript  # Whisper did not run
    assert (wd / "translation.es.json").read_bytes() == edited

    # the review page's "speak again", in the same work directory: no conflict either
    from lipdub.review.session import ReviewSession

    pipeline = DubbingPipeline(
        transcriber=("whisper", {"model": str(model)}),
        translator="fake",
        voice="fake",
        detector="fake",
        lipsyncer=("wav2lip_gan", {"name_or_path": str(checkpoint)}),
        device="cpu",
        speaker_scorer=None,
    )
    session = ReviewSession(wd, pipeline, input=video)
    job = session.start("speak", "es")
    for thread in threading.enumerate():
        if thread.name == "lipdub-review-speak":
            thread.join(timeout=300)
    assert job.state == "done", job.message
    assert not job.conflict and "transcribe" not in job.ran and "translate" not in job.ran
    assert "speak" in job.ran

    whole = _lipdub(tmp_path, *base)
    assert {"lipsync", "subtitles"} <= _line(whole.stdout, "ran: ")
    assert not {"extract", "transcribe", "translate", "speak"} & _line(whole.stdout, "ran: ")
    assert edit in (tmp_path / "talk.es.srt").read_text(encoding="utf-8")
    assert (wd / "translation.es.json").read_bytes() == edited

    same = _lipdub(tmp_path, *base)
    assert "ran: nothing" in same.stdout.splitlines()

    # an option re-runs only the stages whose keys it enters
    active = _lipdub(tmp_path, *base, "--face", "active")
    assert _line(active.stdout, "ran: ") == {"faces", "lipsync"}


def test_whisper_gives_the_same_bytes_in_two_processes(tmp_path: Path, speech: AudioClip) -> None:
    model = tiny_en_model_dir()
    wav = speech.save_wav(tmp_path / "speech.wav")
    code = (
        "import sys; from lipdub.transcribe.whisper import WhisperTranscriber; "
        "from lipdub.types import AudioClip; "
        "t = WhisperTranscriber(sys.argv[1], device='cpu', cpu_threads=int(sys.argv[3])); "
        "t.transcribe(AudioClip.load_wav(sys.argv[2]), 'en').save(sys.argv[4])"
    )
    outs = []
    for threads in (1, 2):
        out = tmp_path / f"t{threads}.json"
        subprocess.run(
            [sys.executable, "-c", code, str(model), str(wav), str(threads), str(out)],
            env=_env(tmp_path),
            check=True,
            timeout=300,
        )
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    assert b"morning" in outs[0].lower()


def test_whisper_pins_its_decoding() -> None:
    pytest.importorskip("faster_whisper")
    from lipdub.errors import InputError
    from lipdub.transcribe.whisper import WhisperTranscriber

    stt = WhisperTranscriber("tiny", device="cpu")
    assert stt.settings()["temperature"] == [0.0]  # no sampling fallback: reproducible
    assert WhisperTranscriber("tiny", temperature=(0.0, 0.4)).settings()["temperature"] == [
        0.0,
        0.4,
    ]
    for bad in (-0.1, float("nan"), (), ("hot",)):
        with pytest.raises(InputError, match="temperature"):
            WhisperTranscriber("tiny", temperature=bad)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- kill + resume

#: The child: a dub with fakes (a cloning hum, so the voices stage runs) that SIGKILLs
#: itself at its k-th event (k <= 0: never; k = 0 prints each event it counts). The
#: progress of track and lipsync is paced by the clock, so only their first one counts:
#: k names the same point of every run.
_CHILD = r"""
import os, signal, sys
import numpy as np
from lipdub import DubbingPipeline
from lipdub.dub.options import DubOptions
from lipdub.events import Progress
from lipdub.testing import FakeTranscriber, FakeVoiceSynth, register_fakes
from lipdub.types import AudioClip

register_fakes()

class Hum(FakeVoiceSynth):
    name = "hum"
    clones = True
    def synthesize(self, text, *, voice=None, language=None, rate=1.0, reference=None):
        clip = super().synthesize(text, voice=voice, language=language, rate=rate)
        gain = 1.0 if reference is None else 0.5 + min(1.0, reference.rms())
        return AudioClip(clip.samples * np.float32(gain), clip.sample_rate_hz)

video, workdir, output, k = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
seen = 0
paced = {"track": 0, "lipsync": 0}
def on_event(event):
    global seen
    if isinstance(event, Progress) and event.stage in paced:
        paced[event.stage] += 1
        if paced[event.stage] > 1:
            return
    seen += 1
    if k == 0:
        print(seen, type(event).__name__, event.stage)
    if seen == k:
        os.kill(os.getpid(), signal.SIGKILL)

stt = FakeTranscriber.from_texts(
    ["Hello there my good friend how are you today", "Fine thanks"],
    start_s=0.3, segment_s=1.5, gap_s=0.3,
)
pipeline = DubbingPipeline(
    transcriber=stt, translator="fake", voice=Hum(), detector="fake",
    lipsyncer="passthrough", separator="duck", speaker_scorer=None,
)
pipeline.run(video, "es", output, workdir=workdir, voice="clone",
             options=DubOptions(subtitles=("srt", "vtt")), on_event=on_event)
"""


def _child(tmp_path: Path, video: Path, name: str, k: int) -> subprocess.CompletedProcess[str]:
    out = tmp_path / name / "out" / "talk.es.mp4"
    out.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [sys.executable, "-c", _CHILD, str(video), str(tmp_path / name / "wd"), str(out), str(k)],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _artifacts(root: Path) -> dict[str, bytes]:
    """Every file of a run (work directory and outputs) but the manifest and its lock."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in ("manifest.json", ".manifest.lock")
    }


def test_a_dub_killed_anywhere_and_resumed_is_byte_identical(tmp_path: Path, talk: Path) -> None:
    video = Path(shutil.copy(talk, tmp_path / "talk.mp4"))
    clean = _child(tmp_path, video, "clean", 0)
    assert clean.returncode == 0, clean.stderr
    events = [tuple(line.split()[1:]) for line in clean.stdout.splitlines()]
    want = _artifacts(tmp_path / "clean")
    assert {"wd/background.wav", "wd/voices/S1.wav", "out/talk.es.mp4", "out/talk.es.vtt"} <= set(
        want
    )
    speak = [i for i, e in enumerate(events, 1) if e == ("Progress", "speak")]
    ks = [
        events.index(("StageFinished", "extract")) + 1,
        events.index(("StageStarted", "voices")) + 1,
        speak[0],  # one line spoken (and cached), the rest not
        speak[-2],
        events.index(("StageFinished", "separate")) + 1,
        events.index(("StageFinished", "mix")) + 1,
        events.index(("Progress", "track")) + 1,  # the track found, not saved
        events.index(("Progress", "lipsync")) + 1,  # the output partly written
        events.index(("StageStarted", "subtitles")) + 1,
    ]
    for k in ks:
        killed = _child(tmp_path, video, f"k{k}", k)
        assert killed.returncode == -signal.SIGKILL, (k, killed.stderr)
        resumed = _child(tmp_path, video, f"k{k}", -1)
        assert resumed.returncode == 0, (k, resumed.stderr)
        got = _artifacts(tmp_path / f"k{k}")
        assert sorted(got) == sorted(want), k
        differ = [name for name in want if got[name] != want[name]]
        assert not differ, f"killed at {events[k - 1]}: {differ} differ from a clean run"


# --------------------------------------------------------------------------- voices


class _CloningHum(FakeVoiceSynth):
    """The fake voice, cloning (it only takes the reference's loudness)."""

    name = "hum"
    clones = True

    def synthesize(
        self,
        text: str,
        *,
        voice: str | None = None,
        language: str | None = None,
        rate: float = 1.0,
        reference: AudioClip | None = None,
    ) -> AudioClip:
        clip = super().synthesize(text, voice=voice, language=language, rate=rate)
        gain = 1.0 if reference is None else 0.5 + min(1.0, reference.rms())
        return AudioClip(clip.samples * np.float32(gain), clip.sample_rate_hz)


def test_a_speaker_without_a_reference_clip_does_not_rerun_voices(tmp_path: Path) -> None:
    """B says too little for a reference clip: "no clip" is the result, and it holds."""
    from lipdub.testing.media import make_test_video
    from lipdub.types import Segment, Transcript

    clip = make_test_video(tmp_path / "two.mp4", duration_s=3.0, size=(160, 120))
    said = Transcript(
        "en",
        (
            Segment(0.2, 2.2, "Hello there my good friend how are you", speaker="A"),
            Segment(2.4, 2.8, "Fine", speaker="B"),
        ),
    )
    pipe = DubbingPipeline(
        transcriber=FakeTranscriber(said),
        translator="fake",
        voice=_CloningHum(),
        detector="fake",
        lipsyncer="passthrough",
        separator="duck",
    )
    wd = tmp_path / "wd"
    first = pipe.run(clip, "es", workdir=wd, voice="clone", stop_after="speak")
    assert "voices" in first.ran
    assert (wd / "voices" / "A.wav").is_file() and not (wd / "voices" / "B.wav").exists()

    again = pipe.run(clip, "es", workdir=wd, voice="clone", stop_after="speak")
    assert again.ran == ()
    assert not any("reference clip" in n for n in again.notices)  # not cut (and told) again

    (wd / "voices" / "A.wav").unlink()  # a clip that goes missing is cut again
    third = pipe.run(clip, "es", workdir=wd, voice="clone", stop_after="speak")
    assert (wd / "voices" / "A.wav").is_file() and "speak" not in third.ran
