"""`lipdub eval` end to end on a lipdub output, with random SyncNet weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lipdub.cli import main
from lipdub.models.syncnet_v2 import SyncNetV2


@pytest.fixture(scope="module")
def random_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lipdub.testing.checkpoints import write_random_wav2lip_checkpoint

    path = tmp_path_factory.mktemp("ckpt") / "random.pth"
    write_random_wav2lip_checkpoint(path)
    return path


@pytest.fixture(scope="module")
def random_syncnet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("w") / "syncnet_v2.model"
    torch.save(SyncNetV2().state_dict(), path)
    return path


def test_eval_json_on_a_lipdub_output(
    tmp_path: Path,
    random_checkpoint: Path,
    random_syncnet: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from lipdub.testing.media import make_test_video

    clip = make_test_video(tmp_path / "talk.mp4", duration_s=2.0, size=(160, 120))
    dub = ["dub", str(clip), "--to", "es", "--transcriber", "fake", "--translator", "fake"]
    dub += ["--tts", "fake", "--detector", "fake", "--checkpoint", str(random_checkpoint)]
    assert main([*dub, "--device", "cpu", "-q"]) == 0
    capsys.readouterr()
    out = tmp_path / "talk.es.mp4"
    png = tmp_path / "curve.png"
    args = ["eval", str(out), "--json", "--weights", str(random_syncnet), "--detector", "fake"]
    args += ["--device", "cpu", "--reference", str(clip), "--plot", str(png)]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    sync = report["sync"]
    assert report["frames"] == 50 and report["mode"] == "tracked"
    assert report["face_share"] == pytest.approx(1.0)
    assert sync["num_windows"] == 45 and -15 <= sync["offset_frames"] <= 15
    assert sync["offset_ms"] == sync["offset_frames"] * 40
    assert sync["lse_d"] == pytest.approx(min(sync["mean_distances"]))
    assert sync["lse_c"] >= 0 and len(sync["mean_distances"]) == 31
    assert len(sync["confidence_per_second"]) == 2
    assert report["reference"]["frames"] == 50 and report["reference"]["psnr_db_mean"] > 20
    assert report["timing"]["es"]["lines"] >= 1
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    assert main(["eval", str(out), "--weights", str(random_syncnet), "--cropped", "-q"]) == 0
    text = capsys.readouterr().out
    assert "LSE-D:" in text and "LSE-C:" in text and "offset:" in text
    assert "mouth sharpness and stability: not measured (a --cropped input" in text


def test_eval_refuses_an_unsafe_weights_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    from lipdub.testing.media import make_test_video

    class Run:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, ("true",))

    bad = tmp_path / "bad.model"
    torch.save(Run(), bad)
    clip = make_test_video(tmp_path / "v.mp4", duration_s=0.5, size=(64, 48))
    assert main(["eval", str(clip), "--weights", str(bad), "--cropped", "-q"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "refused" in err


@pytest.fixture(scope="module")
def two_dubs(
    tmp_path_factory: pytest.TempPathFactory, random_checkpoint: Path
) -> tuple[Path, Path, Path]:
    """One source and two dubs of it: Wav2Lip (random weights) and the pass-through."""
    from lipdub.testing.media import make_test_video

    tmp = tmp_path_factory.mktemp("two")
    clip = make_test_video(tmp / "talk.mp4", duration_s=2.0, size=(160, 120))
    dub = ["dub", str(clip), "--to", "es", "--transcriber", "fake", "--translator", "fake"]
    dub += ["--tts", "fake", "--detector", "fake", "--device", "cpu", "-q"]
    a, b = tmp / "a.mp4", tmp / "b.mp4"
    assert main([*dub, "--checkpoint", str(random_checkpoint), "-o", str(a)]) == 0
    assert main([*dub, "--lipsyncer", "passthrough", "-o", str(b)]) == 0
    return clip, a, b


def _speech_then_silence(path: Path) -> Path:
    """1 s of tone bursts, then 1 s of silence (16 kHz WAV)."""
    import numpy as np

    from lipdub.media.writer import write_audio
    from lipdub.testing.media import speech_tones
    from lipdub.types import AudioClip

    speech = speech_tones(1.0, 16000).samples
    write_audio(path, AudioClip(np.concatenate([speech, np.zeros(16000, np.float32)]), 16000))
    return path


def test_eval_compare_prints_the_side_by_side_table_and_json(
    tmp_path: Path,
    two_dubs: tuple[Path, Path, Path],
    random_syncnet: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    clip, a, b = two_dubs
    audio = _speech_then_silence(tmp_path / "quiet.wav")
    capsys.readouterr()
    args = ["eval", "--compare", str(a), str(b), "--reference", str(clip), "--audio", str(audio)]
    args += ["--weights", str(random_syncnet), "--detector", "fake", "--device", "cpu", "-q"]
    assert main(args) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0] == f"A = {a}" and text[1] == f"B = {b}"
    rows = {line.split("  ")[0]: line for line in text[3:]}
    for label in (
        "mouth sharpness",
        "mouth jitter in silence",
        "LSE-D",
        "LSE-C",
        "A/V offset (frames)",
        "PSNR outside mouth (dB)",
        "SSIM outside mouth",
    ):
        cells = rows[label][len(label) :].split()
        float(cells[0]), float(cells[1])  # a number for each video, not "-"
    assert "favours Wav2Lip" in rows["LSE-C"]

    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["reference"] == str(clip)
    ours, passthrough = report["videos"]
    assert [ours["video"], passthrough["video"]] == [str(a), str(b)]
    for video in (ours, passthrough):
        assert set(video["sync"]) >= {"offset_frames", "lse_d", "lse_c"}
        assert set(video["reference"]) >= {"psnr_db_mean", "ssim_mean"}
        mouth = video["mouth"]
        assert set(mouth) == {
            "frames",
            "sharpness",
            "detail",
            "source_detail",
            "silent_pairs",
            "jitter",
            "source_jitter",
        }
        assert mouth["frames"] == 50
        # the last second is silent; 5 frames after the speech are its margin
        assert mouth["silent_pairs"] == 19
        assert mouth["jitter"] >= 0 and mouth["source_jitter"] >= 0
    # the pass-through keeps the source's mouth: only the re-encode softens it (0.95)
    assert 0.85 < passthrough["mouth"]["sharpness"] <= 1.0
    assert passthrough["mouth"]["jitter"] == pytest.approx(
        passthrough["mouth"]["source_jitter"], abs=0.5
    )
    assert passthrough["reference"]["psnr_db_mean"] > 35


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["VIDEO.mp4", "--compare", "A.mp4", "B.mp4"], "not both"),
        (["--compare", "A.mp4", "B.mp4"], "needs --reference"),
        (["--compare", "A.mp4", "B.mp4", "--reference", "O.mp4", "--cropped"], "--cropped"),
        (["--compare", "A.mp4", "B.mp4", "--reference", "O.mp4", "--workdir", "W"], "--workdir"),
        ([], "no video to score"),
    ],
)
def test_eval_compare_refuses_what_it_cannot_do(
    extra: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", *extra, "-q"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and words in err and len(err.strip().splitlines()) <= 2


def test_eval_text_says_what_the_mouth_measures_and_why_not() -> None:
    from lipdub.cli.eval import _mouth_text
    from lipdub.eval.mouth import MouthReport
    from lipdub.eval.report import EvalReport

    def lines(mouth: MouthReport) -> list[str]:
        report = EvalReport("v.mp4", "tracked", 50, 1.0, None, mouth=mouth)
        return _mouth_text(report)

    full = MouthReport(50, 0.64, 30.0, 47.0, 19, 1.234, 0.5)
    assert lines(full) == [
        "mouth sharpness: 0.640 of the source's (1 as sharp, lower softer; 50 frames)",
        "mouth jitter in silence: 1.23 grey levels per frame (lower is steadier; "
        "the source's 0.50; 19 frame pairs)",
    ]
    alone = MouthReport(50, None, 30.0, None, 0, None, None)
    assert lines(alone) == [
        "mouth sharpness: needs --reference ORIGINAL (the video that was lip-synced)",
        "mouth jitter in silence: not measured (no silence of 0.44 s or more in the audio, "
        "with a face)",
    ]
    flat = MouthReport(50, None, 0.0, 0.0, 3, 0.1, 0.1)
    assert lines(flat)[0].endswith("(the source's mouth shows no detail above its noise)")
