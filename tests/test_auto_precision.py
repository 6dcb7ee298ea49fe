"""``precision="auto"`` by measurement: the choice, its cache and key, and no surprise build.

The measuring code runs for real; only the clock is stubbed (``timer=``), so which mode
is "fastest" is decided by the test while the fidelity (PSNR against fp32) is measured.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from lipdub.lipsync.auto_precision import (
    AutoChoice,
    ChoiceCache,
    ModeTrial,
    choice_key,
    choose,
    machine_identity,
    measure,
)

onnx = pytest.importorskip("onnxruntime")

Timer = Callable[[str, Callable[[], np.ndarray]], tuple[np.ndarray, float]]


def stub_timer(seconds: dict[str, float], calls: list[str] | None = None) -> Timer:
    """Runs each batch for real and says it took ``seconds[mode]``."""

    def timer(mode: str, call: Callable[[], np.ndarray]) -> tuple[np.ndarray, float]:
        if calls is not None:
            calls.append(mode)
        return call(), seconds[mode]

    return timer


def never_timed(mode: str, call: Callable[[], np.ndarray]) -> tuple[np.ndarray, float]:
    raise AssertionError(f"{mode} was measured again instead of read from the cache")


# --------------------------------------------------------------------------- the choice
def _batches(n: int = 3) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    return [
        (rng.integers(0, 256, (4, 96, 96, 3), dtype=np.uint8), np.zeros((4, 80, 16), np.float32))
        for _ in range(n)
    ]


def _noisy(sigma: float) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A "precision" that returns the input plus Gaussian noise of ``sigma`` levels."""

    def run(faces: np.ndarray, mels: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng(int(faces[0, 0, 0, 0]))
        noise = rng.normal(0, sigma, faces.shape) if sigma else 0
        return np.clip(faces.astype(np.float64) + noise, 0, 255).astype(np.uint8)

    return run


def test_the_fastest_mode_within_the_bound_is_chosen() -> None:
    runners = {"fp32": _noisy(0), "bf16": _noisy(1.0), "int8": _noisy(2.0)}  # ~48 / ~42 dB
    fast_int8 = stub_timer({"fp32": 0.4, "bf16": 0.2, "int8": 0.1})
    trials = measure(runners, _batches(), timer=fast_int8)
    by = {t.mode: t for t in trials}
    assert [t.mode for t in trials] == ["fp32", "bf16", "int8"]
    assert by["fp32"].faces_per_s == 10.0 and math.isinf(by["fp32"].psnr_db or 0)
    assert by["int8"].faces_per_s == 40.0 and 40 < (by["int8"].psnr_db or 0) < 45
    assert choose(trials) == "int8"
    # the fastest fails the bound: the next fastest that passes is taken
    trials = measure(runners, _batches(), timer=fast_int8, bound_db=45.0)
    assert not {t.mode: t for t in trials}["int8"].passed
    assert choose(trials) == "bf16"
    # none passes: fp32, the reference, is the fall-back
    trials = measure(runners, _batches(), timer=fast_int8, bound_db=60.0)
    assert choose(trials) == "fp32"
    # speed decides among the passing modes, whatever their order
    assert (
        choose(
            measure(runners, _batches(), timer=stub_timer({"fp32": 0.4, "bf16": 0.1, "int8": 0.2}))
        )
        == "bf16"
    )


def test_a_mode_that_fails_to_run_is_recorded_and_never_chosen() -> None:
    def broken(faces: np.ndarray, mels: np.ndarray) -> np.ndarray:
        raise RuntimeError("no kernel")

    trials = measure(
        {"fp32": _noisy(0), "int8": broken},
        _batches(),
        timer=stub_timer({"fp32": 1.0, "int8": 0.01}),
        skipped={"bf16": "no native bfloat16"},
    )
    by = {t.mode: t for t in trials}
    assert "no kernel" in by["int8"].note and not by["int8"].passed
    assert by["bf16"].faces_per_s is None and by["bf16"].note == "no native bfloat16"
    assert choose(trials) == "fp32"


def test_the_fastest_batch_sets_the_speed() -> None:
    """A burst of other load slows some batches; the mode's speed is its best batch.
    The modes take turns: fp32, int8, fp32, int8, ..."""
    times = iter([5.0, 1.0, 0.5, 9.0, 0.5, 1.0])

    def timer(mode: str, call: Callable[[], np.ndarray]) -> tuple[np.ndarray, float]:
        return call(), next(times)

    trials = measure({"fp32": _noisy(0), "int8": _noisy(0)}, _batches(), timer=timer)
    assert [t.faces_per_s for t in trials] == [8.0, 4.0]


def test_the_key_tells_cpus_threads_weights_and_bounds_apart() -> None:
    here = machine_identity("cpu", 2)
    assert here["threads"] == 2 and "flags" in here["cpu"] and "family" in here["cpu"]
    key = choice_key(here, "a" * 64, ["fp32", "int8"], 40.0, "r1")
    avx2_only = {**here, "cpu": {**here["cpu"], "flags": "avx avx2 fma sse4_2"}}
    other_model = {**here, "cpu": {**here["cpu"], "model": "999"}}
    variants = [
        choice_key(avx2_only, "a" * 64, ["fp32", "int8"], 40.0, "r1"),
        choice_key(other_model, "a" * 64, ["fp32", "int8"], 40.0, "r1"),
        choice_key(machine_identity("cpu", 1), "a" * 64, ["fp32", "int8"], 40.0, "r1"),
        choice_key(here, "b" * 64, ["fp32", "int8"], 40.0, "r1"),
        choice_key(here, "a" * 64, ["fp32"], 40.0, "r1"),
        choice_key(here, "a" * 64, ["fp32", "int8"], 45.0, "r1"),
        choice_key(here, "a" * 64, ["fp32", "int8"], 40.0, "r2"),
    ]
    assert len({key, *variants}) == 8
    assert key == choice_key(dict(here), "a" * 64, ["fp32", "int8"], 40.0, "r1")


def test_a_record_is_untrusted_input(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    trials = (
        ModeTrial("fp32", 10.0, math.inf, True),
        ModeTrial("bf16", 20.0, 55.0, True),
        ModeTrial("int8", 30.0, 50.0, True),
    )
    choice = AutoChoice("int8", trials, 40.0, "k" * 64, {"threads": 2}, "2026-12-06T16:00:00")
    cache = ChoiceCache(tmp_path)
    cache.put(choice)
    back = cache.get("k" * 64)
    assert back is not None and back.cached and back.precision == "int8"
    assert back.trials == trials and "int8: the fastest" in back.reason()
    assert cache.get("j" * 64) is None  # another key: nothing (no file)
    body = json.loads(cache.path("k" * 64).read_text())
    tampered = [
        {**body, "precision": "bf16"},  # a choice its own trials do not support
        {**body, "precision": "fp64"},
        {**body, "key": "j" * 64},
        {**body, "trials": [{**body["trials"][2], "faces_per_s": -1}, *body["trials"][:2]]},
        {**body, "trials": [{**body["trials"][0], "mode": "../../etc"}]},
        {**body, "bound_db": "40"},
    ]
    for bad in tampered:
        cache.path("k" * 64).write_text(json.dumps(bad))
        assert cache.get("k" * 64) is None
    cache.path("k" * 64).write_text("{not json")
    assert cache.get("k" * 64) is None
    assert caplog.text.count("unsound") == len(tampered) + 1


# --------------------------------------------------------------------------- the syncer
@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lipdub.testing.checkpoints import write_random_wav2lip_checkpoint

    return write_random_wav2lip_checkpoint(tmp_path_factory.mktemp("w") / "w.pth", seed=0)


@pytest.fixture(scope="module")
def built(ckpt: Path) -> Path:
    """The int8 model of ``ckpt``, built once (in the session's lipdub cache)."""
    from lipdub.lipsync.wav2lip import Wav2LipSyncer

    syncer = Wav2LipSyncer.from_pretrained(ckpt, device="cpu", precision="int8")
    syncer.prepare()
    return syncer._int8_generator().path


@pytest.fixture
def cold(tmp_path: Path, built: Path) -> Path:
    """A cache holding the int8 model (no build to wait for) but no measurement."""
    folder = tmp_path / "int8"
    folder.mkdir()
    for p in (built, built.with_suffix(".json")):
        shutil.copy2(p, folder / p.name)
    return folder


def _syncer(ckpt: Path, cache: Path, **kw: object):  # type: ignore[no-untyped-def]
    from lipdub.lipsync.wav2lip import Wav2LipSyncer

    return Wav2LipSyncer.from_pretrained(ckpt, device="cpu", int8_cache_dir=cache, **kw)  # type: ignore[arg-type]


def test_auto_is_the_default_and_picks_the_fastest_passing_mode(ckpt: Path, cold: Path) -> None:
    from lipdub.events import EventRecorder, StageFinished

    syncer = _syncer(ckpt, cold)
    assert syncer.requested_precision == "auto"
    calls: list[str] = []
    rec = EventRecorder()
    syncer.prepare(
        on_event=rec, threads=2, timer=stub_timer({"fp32": 1.0, "bf16": 0.5, "int8": 0.2}, calls)
    )
    choice = syncer.auto_choice
    assert choice is not None and not choice.cached
    assert syncer.precision == "int8" == syncer.settings()["precision"]
    assert syncer.settings()["int8_recipe"]
    # every candidate ran the 4 calibration batches in turn, timed by the stub
    assert calls[:2] == ["fp32", calls[1]] and calls.count("fp32") == calls.count("int8") == 4
    by = {t.mode: t for t in choice.trials}
    assert by["int8"].faces_per_s == 40.0 and (by["int8"].psnr_db or 0) >= 40.0
    done = [e for e in rec.of_type(StageFinished)]
    assert [e.stage for e in done] == ["precision"]  # the int8 model was already built
    assert "auto -> int8" in done[0].detail
    # the output is int8's: the same crops as an explicit int8 syncer
    from lipdub.lipsync.wav2lip_int8 import calibration_crops

    faces, mels = calibration_crops(8)
    explicit = _syncer(ckpt, cold, precision="int8")
    assert np.array_equal(syncer.sync(faces, mels), explicit.sync(faces, mels))


def test_auto_falls_back_when_the_fastest_fails_the_bound(ckpt: Path, cold: Path) -> None:
    from lipdub.lipsync.wav2lip import Wav2LipSyncer

    fastest_int8 = stub_timer({"fp32": 1.0, "bf16": 0.5, "int8": 0.2})
    # int8 measures about 50 dB against fp32 on these weights: a 52 dB bound fails it
    strict = _syncer(ckpt, cold, min_psnr_db=52.0)
    strict.prepare(threads=2, timer=fastest_int8)
    choice = strict.auto_choice
    assert choice is not None
    by = {t.mode: t for t in choice.trials}
    assert not by["int8"].passed and "below the 52 dB bound" in by["int8"].note
    want = "bf16" if by.get("bf16") and by["bf16"].passed else "fp32"
    assert strict.precision == want and "int8 failed the bound" in choice.reason()
    # nothing reduced can pass an infinite bound: the reference
    exact = _syncer(ckpt, cold, min_psnr_db=math.inf)
    exact.prepare(threads=2, timer=fastest_int8)
    assert exact.precision == "fp32"
    faces = np.full((1, 96, 96, 3), 100, np.uint8)
    mels = np.zeros((1, 80, 16), np.float32)
    ref = Wav2LipSyncer.from_pretrained(ckpt, device="cpu", precision="fp32")
    assert np.array_equal(exact.sync(faces, mels), ref.sync(faces, mels))


def test_the_measurement_is_cached_per_thread_count(ckpt: Path, cold: Path) -> None:
    first = _syncer(ckpt, cold)
    first.prepare(threads=2, timer=stub_timer({"fp32": 1.0, "bf16": 0.1, "int8": 0.2}))
    again = _syncer(ckpt, cold)
    again.prepare(threads=2, timer=never_timed)  # read, not measured
    assert again.auto_choice is not None and again.auto_choice.cached
    assert again.precision == first.precision
    assert len(list(cold.glob("auto-*.json"))) == 1
    # another thread count is another key: measured on its own when it runs
    assert first.auto_key(threads=1) != first.auto_key(threads=2) == again.auto_key(threads=2)


def test_the_lipsync_engine_prepares_before_the_first_frame(
    ckpt: Path, cold: Path, tmp_path: Path
) -> None:
    from lipdub.events import EventRecorder, Progress, StageStarted
    from lipdub.lipsync.engine import lipsync
    from lipdub.testing.media import make_test_video, speech_tones

    clip = make_test_video(tmp_path / "in.mp4", duration_s=0.4, size=(160, 120), audio=False)
    rec = EventRecorder()
    syncer = _syncer(ckpt, cold)
    lipsync(
        clip,
        speech_tones(0.4),
        tmp_path / "out.mp4",
        syncer=syncer,
        box=(40, 20, 120, 110),
        preset="ultrafast",
        on_event=rec,
        threads=2,
    )
    order = [e.stage for e in rec.events if isinstance(e, (StageStarted, Progress))]
    assert order.index("precision") < order.index("lipsync")
    assert "lipsync" not in order[: order.index("precision")]


# --------------------------------------------------------------------------- the CLI
@pytest.fixture
def wav2lip_gan_is(ckpt: Path) -> Iterator[Path]:
    """Registers ``ckpt`` as the ``wav2lip_gan`` weights for one test (then restores)."""
    from lipdub import hub
    from lipdub.testing.checkpoints import spec_for_file

    real = hub.lookup("wav2lip_gan")
    hub.register_weights(spec_for_file("wav2lip_gan", ckpt), replace=True)
    try:
        yield ckpt
    finally:
        hub.register_weights(real, replace=True)


def _dub_args(clip: Path, hf: Path) -> list[str]:
    return [
        "dub", str(clip), "--to", "es", "--transcriber", "fake", "--translator", "fake",
        "--tts", "fake", "--detector", "fake", "--opt", f"lipsyncer.cache_dir={hf}",
        "--device", "cpu", "-q", "--offline",
    ]  # fmt: skip


def _files(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir() if not p.name.startswith(".")}


@pytest.mark.slow
def test_the_first_dub_after_weights_download_builds_nothing(
    wav2lip_gan_is: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from lipdub import hub
    from lipdub.cli import main
    from lipdub.testing.checkpoints import prefilled_hub_cache
    from lipdub.testing.media import make_test_video

    hf = tmp_path / "hf"
    prefilled_hub_cache(hf, hub.lookup("wav2lip_gan"), wav2lip_gan_is)
    monkeypatch.setenv("LIPDUB_CACHE", str(tmp_path / "lipdub"))
    assert main(["weights", "download", "wav2lip_gan", "--cache-dir", str(hf), "-q"]) == 0
    got = capsys.readouterr()
    assert "build int8: built once for these weights in" in got.err
    assert "wav2lip_gan: precision auto here -> " in got.out
    cache = tmp_path / "lipdub" / "int8"
    before = _files(cache)
    assert any(n.endswith(".onnx") for n in before) and any(n.startswith("auto-") for n in before)
    # `weights list` says what auto chose and why
    assert main(["weights", "list", "wav2lip_gan", "--cache-dir", str(hf)]) == 0
    listed = capsys.readouterr().out
    assert "precision auto on this CPU" in listed and "the fastest mode within 40 dB" in listed

    clip = make_test_video(tmp_path / "talk.mp4", duration_s=1.0, size=(160, 120))
    assert main(_dub_args(clip, hf)) == 0
    got = capsys.readouterr()
    assert "build int8" not in got.err and "precision:" not in got.err
    assert _files(cache) == before  # nothing built, nothing measured


@pytest.mark.slow
def test_a_dub_without_it_shows_the_build_as_a_step(
    wav2lip_gan_is: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from lipdub import hub
    from lipdub.cli import main
    from lipdub.testing.checkpoints import prefilled_hub_cache
    from lipdub.testing.media import make_test_video

    hf = tmp_path / "hf"
    prefilled_hub_cache(hf, hub.lookup("wav2lip_gan"), wav2lip_gan_is)
    monkeypatch.setenv("LIPDUB_CACHE", str(tmp_path / "lipdub"))
    clip = make_test_video(tmp_path / "talk.mp4", duration_s=1.0, size=(160, 120))
    assert main(_dub_args(clip, hf)) == 0
    err = capsys.readouterr().err
    assert err.count("build int8: built once for these weights in") == 1
    assert err.count("precision: auto -> ") == 1
    # the re-run reuses the dub and rebuilds nothing; --precision fp32 is one flag away
    assert main(_dub_args(clip, hf)) == 0
    assert "build int8" not in capsys.readouterr().err
    assert main([*_dub_args(clip, hf), "--precision", "fp32"]) == 0
    out = capsys.readouterr()
    assert "build int8" not in out.err and "precision:" not in out.err
