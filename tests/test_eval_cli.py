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
