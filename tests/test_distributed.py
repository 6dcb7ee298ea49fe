"""lipdub.distributed on a local Ray (2 CPUs): 3 videos x 2 languages with the fakes.

Skipped when Ray (``lipdub[ray]``) is not installed. One Ray is started for the module.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from lipdub.distributed import BatchItem, BatchReport, dub_many, load_manifest, workdir_for
from lipdub.media import probe
from lipdub.testing import FakeVoiceSynth
from lipdub.testing.media import make_test_video

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.slow

SPEC: dict[str, Any] = {
    "transcriber": "fake",
    "translator": "fake",
    "voice": "fake",
    "detector": "fake",
    "lipsyncer": "passthrough",
}
LANGS = ["es", "fr"]
ALL_STAGES = {
    "extract",
    "transcribe",
    "translate",
    "speak",
    "quality",
    "separate",
    "mix",
    "track",
    "lipsync",
    "subtitles",
}


def _with_path(env: dict[str, str], folder: Path) -> dict[str, str]:
    """``env`` with ``folder`` first on its ``PYTHONPATH``."""
    rest = env.get("PYTHONPATH")
    return {**env, "PYTHONPATH": str(folder) + (os.pathsep + rest if rest else "")}


@pytest.fixture(scope="module")
def local_ray(fakes_plugin: Path) -> Any:
    if ray.is_initialized():  # pragma: no cover (another module left one running)
        ray.shutdown()
    # The workers find the fakes by name through the test package's entry points.
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = _with_path(dict(os.environ), fakes_plugin)["PYTHONPATH"]
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    finally:
        if saved is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = saved
    # The killing voice below is defined here; workers cannot import a test module.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield ray
    ray.shutdown()


def _videos(folder: Path, n: int = 3) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [
        make_test_video(folder / f"clip{i}.mp4", duration_s=1.0 + 0.2 * i, size=(64, 48))
        for i in range(n)
    ]


def _check_outputs(report: BatchReport, videos: list[Path]) -> None:
    assert report.succeeded == 6 and report.failed == 0, report.table()
    for t in report.tasks:
        assert t.output is not None
        out, src = probe(t.output), probe(t.input)
        assert out.has_audio and out.frame_count == src.frame_count
        assert Path(t.output).name == f"{Path(t.input).stem}.{t.language}.mp4"
    assert sorted({t.input for t in report.tasks}) == sorted(str(v) for v in videos)


def test_batch_dubs_every_pair_once_and_a_rerun_does_nothing(
    local_ray: Any, tmp_path: Path
) -> None:
    videos = _videos(tmp_path / "in")
    events: list[Any] = []
    report = dub_many(
        videos,
        "es,fr",
        pipeline=SPEC,
        workdir_root=tmp_path / "wd",
        output_dir=tmp_path / "out",
        on_event=events.append,
    )
    _check_outputs(report, videos)
    # The language-independent stages ran once per video (in its first language's task).
    for v in videos:
        first, second = (t for t in report.tasks if t.input == str(v))
        assert set(first.ran) == ALL_STAGES
        assert set(second.ran) == {"translate", "speak", "quality", "mix", "lipsync", "subtitles"}
        assert set(second.reused) == {"extract", "transcribe", "separate", "track"}
        manifest = json.loads(
            (workdir_for(BatchItem(v), tmp_path / "wd") / "manifest.json").read_text()
        )
        assert {"translate:es", "translate:fr", "lipsync:es", "lipsync:fr"} <= set(
            manifest["stages"]
        )
    finished = [e for e in events if e.kind == "finished"]
    assert [e.done for e in finished] == [1, 2, 3, 4, 5, 6] and finished[-1].total == 6
    assert set(finished[-1].stage_rate) == ALL_STAGES
    assert set(report.stage_seconds()) == ALL_STAGES
    saved = json.loads(report.save(tmp_path / "report.json").read_text())
    assert saved["succeeded"] == 6 and len(saved["tasks"]) == 6
    assert "6 ok, 0 failed" in report.table()

    outputs = {t.output: Path(t.output).stat().st_mtime_ns for t in report.tasks if t.output}
    again = dub_many(
        videos, LANGS, pipeline=SPEC, workdir_root=tmp_path / "wd", output_dir=tmp_path / "out"
    )
    assert again.succeeded == 6 and again.ran_stages == 0
    assert all(set(t.reused) == ALL_STAGES for t in again.tasks)
    assert {t.output: Path(t.output).stat().st_mtime_ns for t in again.tasks if t.output} == outputs
    assert "none (all reused)" in again.table()


class KillingVoice(FakeVoiceSynth):
    """The fake voice, except that the first call of the batch kills its own process."""

    name = "killing"

    def __init__(self, marker: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.marker = Path(marker)

    def synthesize(self, text: str, **kwargs: Any) -> Any:
        try:  # exclusive create: of two workers speaking at once, only one dies
            fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return super().synthesize(text, **kwargs)
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        os.kill(os.getpid(), signal.SIGKILL)  # a worker dying mid-task
        raise AssertionError("unreachable")


def _register_killing_voice() -> None:
    from lipdub import registry

    registry.register("voice", "killing", KillingVoice, replace=True)


def test_a_killed_worker_is_survived(local_ray: Any, tmp_path: Path) -> None:
    from lipdub.distributed import PipelineSpec

    videos = _videos(tmp_path / "in")
    marker = tmp_path / "killed.pid"
    spec = PipelineSpec(
        {**SPEC, "voice": ("killing", {"marker": str(marker)})}, setup=_register_killing_voice
    )
    report = dub_many(
        videos, LANGS, pipeline=spec, workdir_root=tmp_path / "wd", output_dir=tmp_path / "out"
    )
    assert marker.exists()  # a worker did die
    _check_outputs(report, videos)
    retried = [t for t in report.tasks if t.attempts > 1]
    assert len(retried) == 1 and retried[0].attempts == 2
    assert "died" in retried[0].errors[0].lower() or "crash" in retried[0].errors[0].lower()
    # Nothing half-written: no temporary files anywhere, every manifest readable.
    assert not [p for p in tmp_path.rglob("*") if ".tmp" in p.name]
    for v in videos:
        wd = workdir_for(BatchItem(v), tmp_path / "wd")
        assert json.loads((wd / "manifest.json").read_text())["stages"]


def test_failures_are_reported_with_their_reason_and_not_retried_when_hopeless(
    local_ray: Any, tmp_path: Path
) -> None:
    videos = _videos(tmp_path / "in", n=1)
    still = tmp_path / "in" / "still.png"
    from lipdub.testing.media import make_portrait

    make_portrait(still, size=(64, 64))  # a still image and no text: nothing to dub
    report = dub_many(
        [videos[0], still],
        ["es"],
        pipeline=SPEC,
        workdir_root=tmp_path / "wd",
        output_dir=tmp_path / "out",
        max_retries=3,
    )
    by_name = {Path(t.input).name: t for t in report.tasks}
    assert by_name["clip0.mp4"].ok
    assert not by_name["still.png"].ok and by_name["still.png"].attempts == 1
    assert "MediaError" in by_name["still.png"].errors[0]
    assert "still image" in by_name["still.png"].errors[0]
    assert "FAILED" in report.table()


def test_cli_batch_reads_a_manifest_and_writes_a_report(
    local_ray: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lipdub.cli import main

    _videos(tmp_path / "in", n=2)
    (tmp_path / "in" / "m.csv").write_text(
        "input,output,from\nclip0.mp4,,en\nclip1.mp4,dubbed/one.{lang}.mp4,\n"
    )
    assert [i.source_language for i in load_manifest(tmp_path / "in" / "m.csv")] == ["en", None]
    args = [
        "batch",
        str(tmp_path / "in" / "m.csv"),
        "--to",
        "es",
        "--workdir",
        str(tmp_path / "wd"),
    ]
    args += ["--report", str(tmp_path / "r.json"), "--output-dir", str(tmp_path / "out")]
    for slot in ("transcriber", "translator", "tts", "detector"):
        args += [f"--{slot}", "fake"]
    assert main([*args, "--model", "passthrough", "-q"]) == 0
    out = capsys.readouterr().out
    assert "2 ok, 0 failed" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert sorted(Path(t["output"]).name for t in report["tasks"]) == ["clip0.es.mp4", "one.es.mp4"]
    assert (tmp_path / "in" / "dubbed" / "one.es.mp4").is_file()


class SlowVoice(FakeVoiceSynth):
    """The fake voice taking 0.2 s a call, so that tasks overlap inside ``speak``."""

    name = "slow"

    def synthesize(self, text: str, **kwargs: Any) -> Any:
        import time

        time.sleep(0.2)
        return super().synthesize(text, **kwargs)


def _register_slow_voice() -> None:
    from lipdub import registry

    registry.register("voice", "slow", SlowVoice, replace=True)


def test_a_cloud_api_quota_holds_across_workers(local_ray: Any, tmp_path: Path) -> None:
    from lipdub.distributed import PipelineSpec

    videos = _videos(tmp_path / "in", n=2)
    spec = PipelineSpec({**SPEC, "voice": "slow"}, setup=_register_slow_voice)
    report = dub_many(
        videos,
        LANGS,
        pipeline=spec,
        workdir_root=tmp_path / "wd",
        output_dir=tmp_path / "out",
        api_concurrency={"voice.slow": 1, "google": 4},
    )
    assert report.succeeded == 4
    assert report.api_peak == {"voice.slow": 1, "google": 0}


def test_cli_batch_keeps_rays_own_notices_off_the_screen(
    tmp_path: Path, fakes_plugin: Path
) -> None:
    """Ray started by ``lipdub batch`` itself (a fresh process): no Ray line on stderr.
    The fakes come by name from the test package's entry points, in every process."""
    import subprocess

    _videos(tmp_path / "in", n=1)
    (tmp_path / "in" / "m.csv").write_text("input\nclip0.mp4\n")
    args = ["batch", str(tmp_path / "in" / "m.csv"), "--to", "es", "--num-cpus", "1"]
    args += ["--workdir", str(tmp_path / "wd"), "--output-dir", str(tmp_path / "out")]
    for slot in ("transcriber", "translator", "tts", "detector"):
        args += [f"--{slot}", "fake"]
    args += ["--model", "passthrough"]
    proc = subprocess.run(
        [sys.executable, "-m", "lipdub.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=_with_path(dict(os.environ), fakes_plugin),
    )
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("[1/1] clip0.mp4 -> es: done"), proc.stderr
    assert "1 ok, 0 failed" in proc.stdout
