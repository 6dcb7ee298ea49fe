"""`lipdub dub --face` end to end: random-weight Wav2Lip and syncnet_v2 (published pickled
format), the two-face clip, then `lipdub eval --json` on the output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from lipdub.cli import main
from lipdub.models.syncnet_v2 import SyncNetV2
from lipdub.testing.speaker import make_two_face_video

REGIONS = {0: (42, 30, 118, 141), 1: (202, 30, 278, 141)}
FAKES = ["--transcriber", "fake", "--translator", "fake", "--tts", "fake"]


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from lipdub.testing.checkpoints import write_random_wav2lip_checkpoint

    root = tmp_path_factory.mktemp("w")
    wav2lip = write_random_wav2lip_checkpoint(root / "wav2lip.pth")
    mod = types.ModuleType("SyncNetModel")

    class S(SyncNetV2):  # torch.save(model) of SyncNetModel.S, as the published file
        pass

    S.__module__, S.__qualname__ = "SyncNetModel", "S"
    mod.S = S  # type: ignore[attr-defined]
    torch.manual_seed(0)
    sys.modules["SyncNetModel"] = mod
    try:
        torch.save(S(), root / "syncnet_v2.model")
    finally:
        del sys.modules["SyncNetModel"]
    return {"wav2lip": Path(wav2lip), "syncnet": root / "syncnet_v2.model"}


def _region_changes(out: Path, src: Path) -> dict[int, float]:
    from lipdub.media import VideoReader

    with VideoReader(out) as a, VideoReader(src) as b:
        pairs = [(x.astype(np.int16), y.astype(np.int16)) for x, y in zip(a, b, strict=True)]
    return {
        fid: max(float(np.abs(x[y1:y2, x1:x2] - y[y1:y2, x1:x2]).mean()) for x, y in pairs)
        for fid, (x1, y1, x2, y2) in REGIONS.items()
    }


def test_dub_face_active_then_eval_json(
    tmp_path: Path, weights: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    clip = make_two_face_video(tmp_path / "two.mp4")
    args = ["dub", str(clip), "--to", "es", *FAKES, "--detector", "fixed_faces"]
    args += ["--checkpoint", str(weights["wav2lip"]), "--syncnet", str(weights["syncnet"])]
    assert main([*args, "--face", "active", "--device", "cpu", "-q"]) == 0
    data = json.loads((tmp_path / "two.mp4.lipdub" / "faces.json").read_text("utf-8"))
    assert data["mode"] == "active"
    (span,) = data["spans"]  # the fake transcriber's one line
    assert set(span["scores"]) == {"0", "1"} and span["face"] in (0, 1)
    chosen, other = span["face"], 1 - span["face"]
    out = tmp_path / "two.es.mp4"
    changes = _region_changes(out, clip)
    assert changes[chosen] > 10 and changes[other] < 3.0  # only the chosen face's mouth

    # a person picks the other face: only the lip-sync is redone
    path = tmp_path / "two.mp4.lipdub" / "faces.json"
    data["spans"][0]["face"] = other
    path.write_text(json.dumps(data), encoding="utf-8")
    capsys.readouterr()
    assert main([*args, "--device", "cpu", "-q"]) == 0
    printed = capsys.readouterr().out
    assert "ran: lipsync\n" in printed and "your edits used: faces\n" in printed
    changes = _region_changes(out, clip)
    assert changes[other] > 10 and changes[chosen] < 3.0

    path.write_text('{"spans": [{"start_s": 0.5, "end_s": 2.0, "face": 9}]}', encoding="utf-8")
    assert main([*args, "--device", "cpu", "-q"]) != 0  # a hostile edit: one line, kept
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]
    assert "faces.json" in line and "names face 9" in line
    assert '"face": 9' in path.read_text("utf-8")  # never overwritten

    ev = ["eval", str(out), "--json", "--weights", str(weights["syncnet"])]
    assert main([*ev, "--detector", "fixed_faces", "--device", "cpu"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["frames"] == 75 and report["sync"]["num_windows"] == 70
    assert {"lse_d", "lse_c", "offset_frames"} <= set(report["sync"])
    faces = report["faces"]  # several faces: each scored on its own
    assert [f["id"] for f in faces] == [0, 1] and faces[1]["box"] == [202.0, 30.0, 278.0, 130.0]
    assert all(f["face_share"] == 1.0 and f["sync"]["num_windows"] == 70 for f in faces)
    assert faces[chosen]["sync"]["lse_d"] != faces[other]["sync"]["lse_d"]
    text_args = ["eval", str(out), "--weights", str(weights["syncnet"]), "--detector"]
    assert main([*text_args, "fixed_faces", "--device", "cpu", "-q"]) == 0
    text = capsys.readouterr().out
    assert "face 0 at (42,30)-(118,130), in 100% of frames: offset" in text


def test_an_unknown_face_id_is_one_line_listing_the_ids(
    tmp_path: Path, weights: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    clip = make_two_face_video(tmp_path / "two.mp4", duration_s=1.0, speaking=((0.2, 0.8, 0),))
    args = ["dub", str(clip), "--to", "es", *FAKES, "--detector", "fixed_faces"]
    args += ["--checkpoint", str(weights["wav2lip"]), "--face", "3", "--device", "cpu", "-q"]
    assert main(args) != 0
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and "--face 3" in err[0] and "0 (box" in err[0] and "1 (box" in err[0]
    assert not (tmp_path / "two.es.mp4").exists()


def test_auto_is_active_when_the_syncnet_weights_are_cached(
    tmp_path: Path, weights: dict[str, Path]
) -> None:
    """The default --face auto, in a fresh process whose Hugging Face cache holds syncnet_v2."""
    from lipdub.testing.checkpoints import prefilled_hub_cache

    cache = tmp_path / "hub"
    prefilled_hub_cache(cache, "syncnet_v2", weights["syncnet"])
    clip = make_two_face_video(tmp_path / "two.mp4", duration_s=1.0, speaking=((0.2, 0.8, 0),))
    code = (
        "import sys, lipdub.testing as t; t.register_fakes(); "
        "from lipdub.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    args = ["dub", str(clip), "--to", "es", *FAKES, "--detector", "fixed_faces"]
    args += ["--checkpoint", str(weights["wav2lip"]), "--device", "cpu", "-q"]
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parents[1]), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    data = json.loads((tmp_path / "two.mp4.lipdub" / "faces.json").read_text("utf-8"))
    assert data["mode"] == "active" and set(data["spans"][0]["scores"]) == {"0", "1"}
