"""The lipdub command as a user runs it (a real subprocess where the exit matters)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lipdub.cli import main


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lipdub.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_version_and_help() -> None:
    out = _run("--version")
    assert out.returncode == 0 and out.stdout.startswith("lipdub ")
    out = _run("--help")
    for command in ("dub", "lipsync", "transcribe", "translate", "speak", "voices", "probe"):
        assert command in out.stdout


def test_probe_of_a_text_file_is_one_clear_line(tmp_path: Path) -> None:
    fake = tmp_path / "notes in ü.mp4"
    fake.write_text("this is not a video\n")
    out = _run("probe", str(fake))
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("error: ") and str(fake) in lines[0]
    assert "Traceback" not in out.stderr


def test_verbose_shows_the_traceback(tmp_path: Path) -> None:
    out = _run("--verbose", "probe", str(tmp_path / "missing.mp4"))
    assert out.returncode != 0 and "Traceback" in out.stderr


def test_probe_prints_video_info(test_video: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", str(test_video)]) == 0
    text = capsys.readouterr().out
    assert "160x120" in text and "25" in text and "audio:      yes" in text


def test_unknown_backend_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["voices", "--backend", "nope"]) == 1
    err = capsys.readouterr().err
    assert "no voice backend named 'nope'" in err and "espeak" in err


def test_transcript_round_trip_through_translate_and_speak(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lipdub.types import AudioClip, Segment, Transcript

    src = Transcript("en", (Segment(0.2, 1.0, "one two"), Segment(1.5, 2.0, "three")))
    path = src.save(tmp_path / "t.en.json")
    assert (
        main(
            [
                "translate",
                str(path),
                "--to",
                "es",
                "--backend",
                "fake",
                "-o",
                str(tmp_path / "t.es.json"),
            ]
        )
        == 0
    )
    es = Transcript.load(tmp_path / "t.es.json")
    assert es.language == "es" and es.segments[0].text == "[es] one two"
    out = tmp_path / "speech.wav"
    assert main(["speak", str(tmp_path / "t.es.json"), "-o", str(out), "--backend", "fake"]) == 0
    clip = AudioClip.load_wav(out)
    assert clip.duration_s >= 2.0
    assert "wrote" in capsys.readouterr().out


@pytest.fixture(scope="module")
def random_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lipdub.testing.checkpoints import write_random_wav2lip_checkpoint

    path = tmp_path_factory.mktemp("ckpt") / "random.pth"
    write_random_wav2lip_checkpoint(path)
    return path


def test_lipsync_a_portrait_to_speech(tmp_path: Path, random_checkpoint: Path) -> None:
    """The Wav2Lip issue's first-run check: a still portrait + speech -> a video as long."""
    from lipdub.media import load_audio, probe
    from lipdub.testing.media import make_speech_wav, sample_portrait_path

    speech = make_speech_wav(tmp_path / "speech.wav", 1.0)
    out = tmp_path / "out.mp4"
    code = main(
        [
            "lipsync",
            "--face",
            str(sample_portrait_path()),
            "--audio",
            str(speech),
            "--checkpoint",
            str(random_checkpoint),
            "-o",
            str(out),
            "-q",
            "--device",
            "cpu",
        ]
    )
    assert code == 0
    info = probe(out)
    assert info.has_audio and info.fps == 25
    assert abs(info.duration_s - 1.0) <= 1 / 25 + 1e-6
    assert abs(load_audio(out).duration_s - 1.0) <= 0.02


def test_lipsync_without_a_face_is_one_line(tmp_path: Path, random_checkpoint: Path) -> None:
    from lipdub.testing.media import make_portrait, make_speech_wav

    blank = make_portrait(tmp_path / "drawn.png")  # a cartoon: RetinaFace sees no face
    speech = make_speech_wav(tmp_path / "speech.wav", 0.5)
    out = _run(
        "lipsync",
        "--face",
        str(blank),
        "--audio",
        str(speech),
        "--checkpoint",
        str(random_checkpoint),
        "-o",
        str(tmp_path / "o.mp4"),
        "-q",
    )
    assert out.returncode == 1
    assert "no face found in any of the 13 frames" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "o.mp4").exists()


def test_bad_and_missing_checkpoints_are_one_line(tmp_path: Path) -> None:
    from lipdub.testing.media import make_speech_wav, sample_portrait_path

    speech = make_speech_wav(tmp_path / "speech.wav", 0.5)
    html = tmp_path / "wav2lip.pth"
    html.write_text("<!DOCTYPE html><html>Sign in</html>")
    face = str(sample_portrait_path())
    out = _run(
        "lipsync",
        "--face",
        face,
        "--audio",
        str(speech),
        "--checkpoint",
        str(html),
        "-o",
        str(tmp_path / "o.mp4"),
    )
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.count("\n") == 1 and "wav2lip.pth" in out.stderr and "HTML" in out.stderr
    env_out = subprocess.run(
        [
            sys.executable,
            "-m",
            "lipdub.cli",
            "lipsync",
            "--face",
            face,
            "--audio",
            str(speech),
            "--model",
            "wav2lip",
            "--offline",
            "-o",
            str(tmp_path / "o.mp4"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"},
    )
    assert env_out.returncode == 1 and "Traceback" not in env_out.stderr
    assert env_out.stderr.count("\n") == 1
    assert "lipdub weights download wav2lip" in env_out.stderr


def test_dub_command_end_to_end_then_resume(
    tmp_path: Path, random_checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`lipdub dub` writes the video, subtitles and a timing report; a re-run reuses all."""
    import json

    from lipdub.media import probe
    from lipdub.testing.media import make_test_video

    clip = make_test_video(tmp_path / "talk.mp4", duration_s=3.0, size=(160, 120))
    args = [
        "dub",
        str(clip),
        "--to",
        "es",
        "--transcriber",
        "fake",
        "--translator",
        "fake",
        "--tts",
        "fake",
        "--detector",
        "fake",
        "--checkpoint",
        str(random_checkpoint),
        "--device",
        "cpu",
        "-q",
        "--subtitles",
        "srt,vtt",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    video = tmp_path / "talk.es.mp4"
    assert f"wrote {video}" in out
    assert abs(probe(video).duration_s - probe(clip).duration_s) <= 1 / 25 + 1e-6
    assert (tmp_path / "talk.es.srt").exists() and (tmp_path / "talk.es.vtt").exists()
    timing = json.loads((tmp_path / "talk.mp4.lipdub" / "timing.es.json").read_text())
    source = json.loads((tmp_path / "talk.mp4.lipdub" / "transcript.en.json").read_text())
    for t, s in zip(timing["segments"], source["segments"], strict=True):
        assert abs(t["start_s"] - s["start_s"]) <= 0.1
    assert main(args) == 0
    again = capsys.readouterr().out
    assert "ran: nothing" in again and "reused: extract, transcribe, translate" in again
