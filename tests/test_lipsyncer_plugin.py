"""A model is a plugin: a lip-syncer defined outside lipdub (``tests/plugin/``), registered
only through the ``lipdub.lipsyncers`` entry-point group, works by name in ``lipsync``,
``dub``, ``batch`` and ``review``, with its options through ``--opt`` and its weights
through the catalogue (``--checkpoint`` gives a local file)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lipdub import registry
from lipdub.cli import main

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = Path(__file__).resolve().parent / "plugin"
FAKES = ["--transcriber", "fake", "--translator", "fake", "--tts", "fake", "--detector", "fake"]
#: A driver that registers the test doubles explicitly, then runs the command line.
DRIVER = (
    "import sys; from lipdub.testing import register_fakes; register_fakes(); "
    "from lipdub.cli import main; sys.exit(main(sys.argv[1:]))"
)


@pytest.fixture
def plugin(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The plugin's folder on the path (as if pip-installed), the entry points read anew."""
    from lipdub.testing import register_fakes

    register_fakes()
    monkeypatch.syspath_prepend(str(PLUGIN))
    monkeypatch.setattr(registry, "_plugins_loaded", False)
    import lipdub_mouthfill

    return lipdub_mouthfill


@pytest.fixture
def env() -> dict[str, str]:
    """The environment of a subprocess that sees this lipdub and the plugin."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(PLUGIN)])}


def _mean_frames(path: Path) -> np.ndarray:
    from lipdub.media import iter_frames

    return np.array([f.astype(np.float64).mean() for f in iter_frames(path)])


def _change(before: Path, after: Path) -> float:
    """The largest rise of a frame's mean brightness from ``before`` to ``after``."""
    a, b = _mean_frames(before), _mean_frames(after)
    n = min(len(a), len(b))
    return float(np.max(b[:n] - a[:n]))


def test_the_plugin_is_found_through_its_entry_point_only(plugin: Any) -> None:
    assert "mouthfill" in registry.available("lipsyncer")
    assert registry.entry("lipsyncer", "mouthfill").source == "plugin"
    assert registry.option_names("lipsyncer", "mouthfill") == ("level", "name_or_path")
    # no line of lipdub names it: the plugin needs no change under lipdub/
    hits = [p for p in (ROOT / "lipdub").rglob("*.py") if "mouthfill" in p.read_text()]
    assert hits == []


def test_lipsync_takes_the_plugin_by_name_with_its_options(
    plugin: Any, tmp_path: Path, make_video: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    video = make_video("face.mp4", duration_s=0.8, size=(96, 72))
    weights = plugin.write_weights(tmp_path / "white.safetensors", 255)
    common = ["lipsync", "--face", str(video), "--audio", str(video), "--detector", "fake"]
    common += ["--all-frames", "--checkpoint", weights, "-q"]
    white, black, bad = tmp_path / "white.mp4", tmp_path / "black.mp4", tmp_path / "x.mp4"
    syncer = [*common, "--lipsyncer", "mouthfill"]
    assert main([*syncer, "--precision", "auto", "-o", str(white)]) == 0  # auto: no-op here
    # --model is the old spelling; --opt reaches the plugin's constructor
    level0 = ["--model", "mouthfill", "--opt", "lipsyncer.level=0"]
    assert main([*common, *level0, "-o", str(black)]) == 0
    assert _change(video, white) > 5.0  # the level of the weights file: white mouths
    assert _change(black, video) > 5.0  # --opt lipsyncer.level=0: black mouths
    capsys.readouterr()
    # an option it does not take is one line naming the ones it does
    assert main([*syncer, "--opt", "lipsyncer.nope=1", "-o", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "has no option 'nope'" in err and "level, name_or_path" in err
    # --precision belongs to lip-syncers that take it: refused here, in one line
    assert main([*syncer, "--precision", "fp32", "-o", str(bad)]) == 1
    assert "has no precision option" in capsys.readouterr().err


def test_dub_takes_the_plugin_by_name(plugin: Any, tmp_path: Path, make_video: Any) -> None:
    video = make_video("talk.mp4", duration_s=1.6, size=(96, 72))
    weights = plugin.write_weights(tmp_path / "white.safetensors", 255)
    out = tmp_path / "talk.es.mp4"
    args = ["dub", str(video), "--to", "es", *FAKES, "--lipsyncer", "mouthfill"]
    assert main([*args, "--checkpoint", weights, "-o", str(out), "-q"]) == 0
    assert _change(video, out) > 5.0


def test_batch_takes_the_plugin_by_name(
    plugin: Any, tmp_path: Path, make_video: Any, env: dict[str, str], fakes_plugin: Path
) -> None:
    # the batch's workers find the fakes through their test package's entry points
    env = {**env, "PYTHONPATH": os.pathsep.join([env["PYTHONPATH"], str(fakes_plugin)])}
    video = make_video("clip0.mp4", duration_s=1.2, size=(64, 48))
    weights = plugin.write_weights(tmp_path / "grey.safetensors", 0)
    manifest = tmp_path / "m.csv"
    manifest.write_text("input\nclip0.mp4\n")
    args = ["batch", str(manifest), "--to", "es", "--num-cpus", "1", *FAKES, "-q"]
    args += ["--workdir", str(tmp_path / "wd"), "--output-dir", str(tmp_path / "out")]
    args += ["--lipsyncer", "mouthfill", "--checkpoint", weights, "--opt", "lipsyncer.level=255"]
    proc = subprocess.run(
        [sys.executable, "-m", "lipdub.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "1 ok, 0 failed" in proc.stdout
    assert _change(video, tmp_path / "out" / "clip0.es.mp4") > 5.0  # level=255 won


def test_review_finishes_the_dub_with_the_plugin(
    plugin: Any, tmp_path: Path, make_video: Any, env: dict[str, str]
) -> None:
    video = make_video("talk.mp4", duration_s=1.6, size=(96, 72))
    weights = plugin.write_weights(tmp_path / "white.safetensors", 255)
    wd = tmp_path / "wd"
    dub = ["dub", str(video), "--to", "es", *FAKES, "--workdir", str(wd), "-q"]
    assert main([*dub, "--stop-after", "speak"]) == 0
    out = tmp_path / "reviewed.es.mp4"
    cmd = [sys.executable, "-c", DRIVER, "review", str(wd), "--no-browser", "-o", str(out)]
    cmd += [*FAKES, "--lipsyncer", "mouthfill", "--checkpoint", weights]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "review page for" in line, line
        url = line.split(": ", 1)[1].strip()
        origin = {"Origin": url.split("/", 3)[0] + "//" + url.split("/", 3)[2]}
        start = urllib.request.Request(
            url + "api/finish",
            data=json.dumps({"lang": "es"}).encode(),
            headers={**origin, "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(start, timeout=30) as r:
            assert r.status == 202
        end = None
        with urllib.request.urlopen(url + "api/events", timeout=300) as events:
            for raw in events:  # the job's events, then one "end" with its summary
                text = raw.decode().strip()
                if text == "event: end":
                    end = json.loads(events.readline().decode().removeprefix("data: "))
                    break
        assert end is not None and end["state"] == "done", end
    finally:
        proc.terminate()
        proc.wait(10)
    assert _change(video, out) > 5.0
