"""Wav2Lip in int8 (ONNX Runtime static quantisation): fidelity, the cache, missing packages."""

from __future__ import annotations

import importlib.util
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

from lipdub.errors import BackendNotInstalled  # noqa: E402

#: Measured on these inputs with random weights: 49-51 dB, max error 4-6 (of 255).
INT8_MIN_PSNR_DB = 45.0


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lipdub.testing.checkpoints import write_random_wav2lip_checkpoint

    return write_random_wav2lip_checkpoint(tmp_path_factory.mktemp("w") / "w.pth", seed=0)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("int8-cache")


def _inputs(n: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Crops of the bundled portrait's face (as the engine crops) and speech mel windows."""
    from lipdub.audio import melspectrogram
    from lipdub.lipsync.blend import crop_face
    from lipdub.media import read_image
    from lipdub.testing.media import sample_portrait_path, speech_tones

    img = read_image(sample_portrait_path())
    faces = [crop_face(img, (104 + k, 54 - k, 205 - k, 190 + k), 96) for k in range(n)]
    mel = melspectrogram(speech_tones(2.0).resample(16000).samples)
    mels = np.stack([mel[:, 5 * k : 5 * k + 16] for k in range(n)]).astype(np.float32)
    return np.stack(faces), mels


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(float) - b.astype(float)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


def test_int8_is_close_to_fp32_and_named_in_the_settings(ckpt: Path, cache: Path) -> None:
    from lipdub.lipsync.wav2lip import FIDELITY_MIN_PSNR_DB, Wav2LipSyncer

    faces, mels = _inputs()
    ref = Wav2LipSyncer.from_pretrained(ckpt, device="cpu", precision="fp32").sync(faces, mels)
    int8 = Wav2LipSyncer.from_pretrained(ckpt, device="cpu", precision="int8", int8_cache_dir=cache)
    with int8.running(threads=2):
        out = int8.sync(faces, mels)
    assert out.shape == (8, 96, 96, 3) and out.dtype == np.uint8
    psnr = _psnr(out, ref)
    assert psnr >= INT8_MIN_PSNR_DB >= FIDELITY_MIN_PSNR_DB
    assert np.abs(out.astype(int) - ref.astype(int)).max() <= 16
    assert not np.array_equal(out, ref)  # it is another arithmetic, not the torch path
    assert int8.precision == "int8"
    settings = int8.settings()
    assert settings["precision"] == "int8" and settings["int8_recipe"]
    # outside running(): the default thread count, same numbers
    assert np.array_equal(int8.sync(faces, mels), out)
    # batches of one give the same crops as the whole batch
    assert np.array_equal(int8.sync(faces[:1], mels[:1]), out[:1])
    assert int8.compile() is False


def test_the_cache_is_reused(ckpt: Path, cache: Path, caplog: pytest.LogCaptureFixture) -> None:
    from lipdub.lipsync.wav2lip import Wav2LipSyncer

    faces, mels = _inputs(2)
    first = Wav2LipSyncer.from_pretrained(
        ckpt, device="cpu", precision="int8", int8_cache_dir=cache
    )
    out = first.sync(faces, mels)
    files = sorted(p.name for p in cache.iterdir())
    assert len([f for f in files if f.endswith(".onnx")]) == 1
    stamp = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    with caplog.at_level(logging.INFO, logger="lipdub.lipsync.wav2lip_int8"):
        again = Wav2LipSyncer.from_pretrained(
            ckpt, device="cpu", precision="int8", int8_cache_dir=cache
        )
        assert np.array_equal(again.sync(faces, mels), out)
    assert "building" not in caplog.text
    assert {p.name: p.stat().st_mtime_ns for p in cache.iterdir()} == stamp


@pytest.mark.parametrize("damage", ["truncate", "sidecar"])
def test_a_damaged_cache_file_is_rebuilt(
    ckpt: Path, cache: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    from lipdub.lipsync.wav2lip import Wav2LipSyncer

    faces, mels = _inputs(2)
    good = Wav2LipSyncer.from_pretrained(ckpt, device="cpu", precision="int8", int8_cache_dir=cache)
    expected = good.sync(faces, mels)
    broken = tmp_path / "cache"
    shutil.copytree(cache, broken)
    model = next(broken.glob("*.onnx"))
    if damage == "truncate":
        model.write_bytes(model.read_bytes()[: model.stat().st_size // 3])
    else:
        model.with_suffix(".json").write_text("{not json", "utf-8")
    with caplog.at_level(logging.WARNING, logger="lipdub.lipsync.wav2lip_int8"):
        syncer = Wav2LipSyncer.from_pretrained(
            ckpt, device="cpu", precision="int8", int8_cache_dir=broken
        )
        assert np.array_equal(syncer.sync(faces, mels), expected)
    assert "rebuilding" in caplog.text
    assert model.stat().st_size == next(cache.glob("*.onnx")).stat().st_size


def test_auto_measures_int8_among_the_modes(ckpt: Path, cache: Path) -> None:
    from lipdub.lipsync.auto_precision import choose
    from lipdub.lipsync.wav2lip import Wav2LipSyncer

    auto = Wav2LipSyncer.from_pretrained(ckpt, device="cpu", precision="auto", int8_cache_dir=cache)
    auto.prepare(threads=2)
    choice = auto.auto_choice
    assert choice is not None
    trials = {t.mode: t for t in choice.trials}
    assert trials["int8"].passed and trials["int8"].psnr_db >= INT8_MIN_PSNR_DB  # type: ignore[operator]
    assert auto.precision == choose(choice.trials) == auto.settings()["precision"]


def test_missing_packages_give_the_install_line(
    ckpt: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lipdub.lipsync.wav2lip import Wav2LipSyncer, cpu_supports

    real = importlib.util.find_spec

    def no_onnx(name: str, *args: object) -> object:
        return None if name.split(".")[0] == "onnx" else real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", no_onnx)
    with pytest.raises(BackendNotInstalled) as e:
        Wav2LipSyncer.from_pretrained(ckpt, device="cpu", precision="int8")
    assert "onnx" in str(e.value) and 'pip install "lipdub[int8]"' in (e.value.hint or "")
    # auto never needs the extra: it measures the torch precisions and says why
    auto = Wav2LipSyncer.from_pretrained(ckpt, device="cpu", precision="auto")
    assert auto.precision in (("fp32", "bf16") if cpu_supports("bf16") else ("fp32",))
    assert auto.auto_choice is not None
    skipped = {t.mode: t.note for t in auto.auto_choice.trials if t.faces_per_s is None}
    assert "lipdub[int8]" in skipped["int8"]


def test_deployable_network_computes_the_same_faces() -> None:
    from lipdub.models.wav2lip import Wav2Lip
    from lipdub.models.wav2lip_deploy import deployable
    from lipdub.testing.checkpoints import random_state_dict

    net = Wav2Lip().eval()
    net.load_state_dict(random_state_dict(net, seed=3), strict=True)
    gen = torch.Generator().manual_seed(0)
    mel = torch.randn(3, 1, 80, 16, generator=gen)
    faces = torch.rand(3, 6, 96, 96, generator=gen)
    with torch.inference_mode():
        ref = net(mel, faces)
        out = deployable(net)(mel, faces)
    assert float((out - ref).abs().max()) < 1e-5
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in deployable(net).modules())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in deployable(net).modules())


def test_cli_lipsync_with_int8(
    ckpt: Path, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`lipdub lipsync --precision int8` writes the video, with the int8 model from the
    lipdub cache ($LIPDUB_CACHE) built once and reused."""
    from lipdub.cli import main
    from lipdub.lipsync.wav2lip import Wav2LipSyncer
    from lipdub.media import probe
    from lipdub.testing.media import make_speech_wav, sample_portrait_path

    with Wav2LipSyncer.from_pretrained(
        ckpt, device="cpu", precision="int8", int8_cache_dir=cache
    ).running():  # built once for the module (opening the model builds it)
        pass
    root = tmp_path / "lipdub-cache"
    shutil.copytree(cache, root / "int8")
    built = {p.name: p.stat().st_mtime_ns for p in (root / "int8").iterdir()}
    monkeypatch.setenv("LIPDUB_CACHE", str(root))
    speech = make_speech_wav(tmp_path / "speech.wav", 0.6)
    out = tmp_path / "out.mp4"
    args = ["lipsync", "--face", str(sample_portrait_path()), "--audio", str(speech)]
    args += ["--checkpoint", str(ckpt), "-o", str(out), "-q", "--device", "cpu"]
    assert main([*args, "--precision", "int8"]) == 0
    assert probe(out).fps == 25
    assert {p.name: p.stat().st_mtime_ns for p in (root / "int8").iterdir()} == built


def test_an_unwritable_cache_is_one_line(ckpt: Path, tmp_path: Path) -> None:
    from lipdub.errors import ModelError
    from lipdub.lipsync.wav2lip import Wav2LipSyncer

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", "utf-8")
    syncer = Wav2LipSyncer.from_pretrained(
        ckpt, device="cpu", precision="int8", int8_cache_dir=blocker / "int8"
    )
    with pytest.raises(ModelError, match="cannot write the int8 model") as e:
        syncer.sync(*_inputs(1))
    assert "LIPDUB_CACHE" in (e.value.hint or "")
