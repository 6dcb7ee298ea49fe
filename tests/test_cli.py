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
