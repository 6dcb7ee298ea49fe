"""A work directory is untrusted data: no file in it, paths included, reaches elsewhere.

Each case plants something hostile in a real dub's work directory — a manifest entry
naming a file outside it (absolute, ``../``), a symlink out, a named pipe, a malformed
record — then runs the real command line (``lipdub.cli.main``, fakes for the models) or
the SDK as a user would, and checks that the run ends in one line or the right output,
and that nothing outside the work directory was read into it, renamed or changed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from lipdub import DubbingPipeline
from lipdub.cli import main
from lipdub.dub.workdir import Workdir
from lipdub.errors import InputError
from lipdub.testing import (
    FakeFaceDetector,
    FakeTranscriber,
    FakeTranslator,
    FakeVoiceSynth,
    PassThroughLipSyncer,
)

TEXTS = ["Hello there, my friend.", "How are you today?"]
FAKES = ["--transcriber", "fake", "--translator", "fake", "--tts", "fake", "--from", "en"]
VICTIM = '{"secret": "the neighbour\'s file, must survive"}\n'


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (not following links), name -> bytes."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


@pytest.fixture
def world(tmp_path: Path, make_video: Callable[..., Path]) -> dict[str, Path]:
    """A clip, its work directory after ``--stop-after translate``, and an outside folder."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.json").write_text(VICTIM, encoding="utf-8")
    (outside / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    projects = tmp_path / "projects"
    projects.mkdir()
    clip = make_video("projects/talk.mp4", duration_s=2.0, fps=25)
    workdir = projects / "talk.mp4.lipdub"
    assert main(["dub", str(clip), "--to", "es", *FAKES, "--stop-after", "translate", "-q"]) == 0
    assert (workdir / "translation.es.json").is_file()
    return {"clip": clip, "workdir": workdir, "outside": outside}


def _poison(workdir: Path, stage: str, name: str) -> None:
    """Point the manifest's record of ``stage`` at ``name`` (as a hostile colleague would)."""
    path = workdir / "manifest.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    files = data["stages"][stage]["files"]
    entry = next(iter(files.values()))
    data["stages"][stage]["files"] = {name: entry}
    path.write_text(json.dumps(data), encoding="utf-8")


def _dub(world: dict[str, Path], *extra: str) -> int:
    return main(["dub", str(world["clip"]), "--to", "es", *FAKES, "--stop-after", "translate", "-q",
                 *extra])  # fmt: skip


@pytest.mark.parametrize("how", ["absolute", "dotdot"])
@pytest.mark.parametrize("stage", ["transcribe", "translate:es"])
def test_a_manifest_entry_outside_is_never_renamed_by_redo(
    world: dict[str, Path], how: str, stage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = world["outside"]
    before = _snapshot(outside)
    name = str(outside / "victim.json") if how == "absolute" else "../../outside/victim.json"
    _poison(world["workdir"], stage, name)
    redo = stage.split(":")[0]
    assert _dub(world, "--redo", redo) == 0
    capsys.readouterr()
    assert _snapshot(outside) == before  # not renamed to .bak, not rewritten
    assert sorted(p.name for p in outside.iterdir()) == ["passwd", "victim.json"]
    # the run went on with its own files inside the work directory
    assert (world["workdir"] / "transcript.en.json").is_file()
    assert (world["workdir"] / "translation.es.json").is_file()


def test_files_of_lists_only_files_inside(world: dict[str, Path]) -> None:
    _poison(world["workdir"], "transcribe", "/etc/passwd")
    wd = Workdir(world["workdir"])
    assert wd.files_of("transcribe") == []
    _poison(world["workdir"], "transcribe", "../outside/victim.json")
    assert Workdir(world["workdir"]).files_of("transcribe") == []
    _poison(world["workdir"], "transcribe", "transcript.en.json")
    assert Workdir(world["workdir"]).files_of("transcribe") == [
        world["workdir"] / "transcript.en.json"
    ]


def test_a_symlinked_artifact_is_refused_in_one_line(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    outside = world["outside"]
    before = _snapshot(outside)
    target = world["workdir"] / "translation.es.json"
    target.unlink()
    target.symlink_to(outside / "victim.json")
    for extra in ((), ("--redo", "translate")):
        capsys.readouterr()
        assert _dub(world, *extra) != 0
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error:"), err
        assert "translation.es.json" in err[0] and "symlink" in err[0]
    assert target.is_symlink()  # never replaced
    assert _snapshot(outside) == before


def test_a_symlinked_folder_out_is_refused_before_anything_is_written(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    outside = world["outside"]
    before = _snapshot(outside)
    (world["workdir"] / "speech").symlink_to(outside, target_is_directory=True)
    code = main(["dub", str(world["clip"]), "--to", "es", *FAKES, "--stop-after", "speak", "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and "speech" in err[0] and "outside" in err[0], err
    assert _snapshot(outside) == before


@pytest.mark.parametrize("name", ["translation.es.json", "speakers.json", "faces.json"])
def test_a_named_pipe_is_refused_not_read_nor_replaced(
    world: dict[str, Path], name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = world["workdir"] / name
    path.unlink(missing_ok=True)
    os.mkfifo(path)
    extra = {
        "translation.es.json": (),
        "speakers.json": ("--speakers", "2"),
        "faces.json": ("--face", "largest"),
    }[name]
    stop = "translate" if name != "faces.json" else "lipsync"
    args = ["dub", str(world["clip"]), "--to", "es", *FAKES, "--stop-after", stop, "-q", *extra]
    if name == "faces.json":
        pytest.importorskip("torch")
        args += ["--detector", "fake", "--model", "wav2lip", "--device", "cpu"]
    code = main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1, err
    assert name in err[0] and "named pipe" in err[0]
    assert path.exists() and not path.is_file()  # still the pipe


def test_a_folder_in_place_of_the_transcript_is_refused(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = world["workdir"] / "transcript.en.json"
    path.unlink()
    path.mkdir()
    assert _dub(world) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "transcript.en.json" in err[0] and "folder" in err[0], err
    assert path.is_dir()


def test_a_planted_lock_symlink_creates_nothing_outside(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    outside = world["outside"]
    lock = world["workdir"] / ".manifest.lock"
    lock.unlink(missing_ok=True)
    lock.symlink_to(outside / "created-by-lipdub")
    assert _dub(world, "--redo", "translate") != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and ".manifest.lock" in err[0] and "symlink" in err[0], err
    assert not (outside / "created-by-lipdub").exists()


def test_a_symlinked_manifest_is_refused(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    outside = world["outside"]
    manifest = world["workdir"] / "manifest.json"
    (outside / "manifest.json").write_bytes(manifest.read_bytes())
    before = _snapshot(outside)
    manifest.unlink()
    manifest.symlink_to(outside / "manifest.json")
    assert _dub(world) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "manifest.json" in err[0] and "symlink" in err[0], err
    assert _snapshot(outside) == before and manifest.is_symlink()


@pytest.mark.parametrize(
    "entry",
    [[], "text", {"size": "12", "sha256": "x", "owner": "lipdub"}, {"size": 1}, 7],
)
def test_malformed_file_entries_are_no_traceback(
    world: dict[str, Path], entry: object, capsys: pytest.CaptureFixture[str]
) -> None:
    path = world["workdir"] / "manifest.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    for record in data["stages"].values():
        record["files"] = {name: entry for name in record["files"]}
    path.write_text(json.dumps(data), encoding="utf-8")
    code = _dub(world)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    # the files are unknown to lipdub now: the edits-are-yours rule applies (used, or a
    # one-line conflict), never a crash
    lines = captured.err.strip().splitlines()
    assert code == 0 or (len(lines) == 1 and lines[0].startswith("error:")), captured.err


def test_workdir_path_refuses_names_that_climb_out(tmp_path: Path) -> None:
    wd = Workdir(tmp_path / "w")
    for name in ("../x.json", "/etc/passwd", "a/../../x", ""):
        with pytest.raises(InputError, match="not a name inside the work directory"):
            wd.path(name)
    assert wd.path("voices/S1.wav") == tmp_path / "w" / "voices" / "S1.wav"


def test_move_aside_renames_nothing_outside(tmp_path: Path) -> None:
    wd = Workdir(tmp_path / "w")
    victim = tmp_path / "victim.json"
    victim.write_text(VICTIM)
    with pytest.raises(InputError, match="outside the work directory"):
        wd.move_aside(victim)
    assert victim.read_text() == VICTIM


def test_the_sdk_run_ignores_a_poisoned_manifest(world: dict[str, Path]) -> None:
    """Through the SDK: ``redo`` with a manifest naming an outside file changes nothing there."""
    outside = world["outside"]
    before = _snapshot(outside)
    _poison(world["workdir"], "transcribe", str(outside / "passwd"))
    pipe = DubbingPipeline(
        transcriber=FakeTranscriber.from_texts(TEXTS, start_s=0.3, segment_s=0.6, gap_s=0.2),
        translator=FakeTranslator(),
        voice=FakeVoiceSynth(seconds_per_word=0.1),
        detector=FakeFaceDetector(),
        lipsyncer=PassThroughLipSyncer(),
    )
    result = pipe.run(
        world["clip"],
        "es",
        source_language="en",
        workdir=world["workdir"],
        stop_after="translate",
        redo=["transcribe", "translate"],
    )
    assert "transcribe" in result.ran
    assert _snapshot(outside) == before
