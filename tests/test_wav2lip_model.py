"""The Wav2Lip generator: layout of the published checkpoints and number-for-number parity.

``tests/data/wav2lip_reference.npz`` holds the original network's outputs on fixed
inputs with synthetic weights (the parity kit's recipe, re-implemented below).
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from lipdub.errors import CheckpointError
from lipdub.hub import load_state_dict
from lipdub.models.wav2lip import Wav2Lip, count_parameters, expected_shapes, wav2lip_manifest
from lipdub.testing.checkpoints import random_state_dict, write_random_wav2lip_checkpoint

DATA = Path(__file__).parent / "data"


def parity_weights() -> dict[str, torch.Tensor]:
    """Synthetic weights of the parity kit: entry i is drawn from a generator seeded 1000 + i."""
    out: dict[str, torch.Tensor] = {}
    for i, (key, shape, dtype) in enumerate(wav2lip_manifest()):
        if dtype != "float32":
            out[key] = torch.zeros(shape, dtype=torch.int64)
            continue
        g = torch.Generator().manual_seed(1000 + i)
        if len(shape) > 1:
            out[key] = torch.randn(shape, generator=g) * (1.0 / math.sqrt(math.prod(shape[1:])))
        elif key.endswith("running_var"):
            out[key] = 1.0 + 0.1 * torch.rand(shape, generator=g)
        elif key.endswith("weight"):
            out[key] = 1.0 + 0.1 * torch.randn(shape, generator=g)
        else:
            out[key] = 0.1 * torch.randn(shape, generator=g)
    return out


@pytest.fixture(scope="module")
def parity_net() -> Wav2Lip:
    net = Wav2Lip()
    net.load_state_dict(parity_weights(), strict=True)
    return net.eval()


def test_layout_counts() -> None:
    net = Wav2Lip()
    sd = net.state_dict()
    assert len(sd) == 352
    assert count_parameters(net) == 36_298_035
    assert count_parameters(net, [torch.nn.BatchNorm2d]) == 50
    assert count_parameters(net, [torch.nn.Conv2d]) == 45
    assert count_parameters(net, [torch.nn.ConvTranspose2d]) == 6
    assert [(k, tuple(v.shape)) for k, v in sd.items()] == [
        (k, s) for k, s, _ in wav2lip_manifest()
    ]


# first 16 hex digits of sha256 of the synthetic tensors (parity kit, torch 2.13 CPU)
FINGERPRINT = {
    "face_encoder_blocks.0.0.conv_block.0.weight": "8dceaba58b58b5eb",
    "face_decoder_blocks.3.0.conv_block.0.weight": "a80fa23994797c1c",
    "audio_encoder.10.conv_block.1.running_var": "1953a4927d7e2b34",
    "output_block.1.bias": "da3a7579394c21fd",
}


def test_weights_recipe_matches_fingerprint() -> None:
    """Guards the parity test: another torch RNG would give other synthetic weights."""
    sd = parity_weights()
    for key, want in FINGERPRINT.items():
        assert hashlib.sha256(sd[key].numpy().tobytes()).hexdigest()[:16] == want, key


@pytest.mark.parametrize("which", ["output", "output_masked_faces"])
def test_parity_with_original(parity_net: Wav2Lip, which: str) -> None:
    ref = np.load(DATA / "wav2lip_reference.npz")
    faces = ref["faces"].copy()
    if which == "output_masked_faces":
        faces[:, :3, 48:] = 0
    with torch.inference_mode():
        out = parity_net(torch.from_numpy(ref["mel"]), torch.from_numpy(faces)).numpy()
    assert out.shape == (4, 3, 96, 96)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref[which], atol=1e-4, rtol=0)


def test_batched_time_axis_equals_per_frame(parity_net: Wav2Lip) -> None:
    ref = np.load(DATA / "wav2lip_reference.npz")
    mel = torch.from_numpy(ref["mel"])  # (4, 1, 80, 16)
    faces = torch.from_numpy(ref["faces"])  # (4, 6, 96, 96)
    # B=2 sequences of T=2 frames: sample b, step t = frame 2b + t
    mel5 = mel.reshape(2, 2, 1, 80, 16)
    faces5 = faces.reshape(2, 2, 6, 96, 96).permute(0, 2, 1, 3, 4)
    with torch.inference_mode():
        out5 = parity_net(mel5, faces5)
    assert tuple(out5.shape) == (2, 3, 2, 96, 96)
    per_frame = out5.permute(0, 2, 1, 3, 4).reshape(4, 3, 96, 96).numpy()
    np.testing.assert_allclose(per_frame, ref["output"], atol=1e-4, rtol=0)


def test_output_range() -> None:
    net = Wav2Lip().eval()
    with torch.inference_mode():
        out = net(torch.randn(1, 1, 80, 16) * 4, torch.rand(1, 6, 96, 96))
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


@pytest.mark.parametrize("fmt", ["original", "bare", "safetensors"])
def test_strict_load_of_random_checkpoints(tmp_path: Path, fmt: str) -> None:
    suffix = ".safetensors" if fmt == "safetensors" else ".pth"
    path = write_random_wav2lip_checkpoint(tmp_path / f"w{suffix}", seed=3, format=fmt)  # type: ignore[arg-type]
    if fmt == "original":
        raw = torch.load(path, weights_only=True)
        assert set(raw) == {"state_dict", "optimizer", "global_step", "global_epoch"}
        assert all(k.startswith("module.") for k in raw["state_dict"])
    sd = load_state_dict(path, expected_shapes=expected_shapes(), what="Wav2Lip")
    net = Wav2Lip()
    net.load_state_dict(sd, strict=True)
    ref = random_state_dict(wav2lip_manifest(), seed=3)
    assert torch.equal(net.state_dict()["output_block.1.weight"], ref["output_block.1.weight"])


def test_s3fd_keys_in_place_of_wav2lip(tmp_path: Path) -> None:
    from lipdub.testing.checkpoints import write_random_checkpoint

    s3fd_manifest = [
        ["conv1_1.weight", [64, 3, 3, 3], "float32"],
        ["conv1_1.bias", [64], "float32"],
        ["conv3_3_norm.weight", [256], "float32"],
        ["conv3_3_norm_mbox_conf.weight", [4, 256, 3, 3], "float32"],
    ]
    p = write_random_checkpoint(tmp_path / "s3fd.pth", s3fd_manifest)
    with pytest.raises(CheckpointError) as err:
        load_state_dict(p, expected_shapes=expected_shapes(), what="Wav2Lip")
    msg = str(err.value)
    assert "expected 352 Wav2Lip tensors, found 4 keys like 'conv1_1.weight'" in msg
    assert "S3FD" in msg


# --------------------------------------------------------------------------- Wav2LipSyncer


@pytest.fixture(scope="module")
def parity_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The parity weights saved in the original on-disk layout."""
    path = tmp_path_factory.mktemp("w2l") / "wav2lip.pth"
    state = {f"module.{k}": v for k, v in parity_weights().items()}
    torch.save({"state_dict": state, "optimizer": {}, "global_step": 0, "global_epoch": 0}, path)
    return path


def _faces(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 96, 96, 3), dtype=np.uint8)


def _mels(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(-4, 4, (n, 80, 16)).astype(np.float32)


def test_sync_matches_original_preparation(parity_ckpt: Path, parity_net: Wav2Lip) -> None:
    from lipdub.lipsync.wav2lip import Wav2LipSyncer

    syncer = Wav2LipSyncer.from_pretrained(parity_ckpt, device="cpu", precision="fp32")
    assert syncer.name == "wav2lip" and syncer.model_name == "wav2lip.pth"
    assert syncer.device == "cpu" and syncer.dtype == torch.float32
    faces, mels = _faces(3), _mels(3)
    out = syncer.sync(faces, mels)
    assert out.shape == (3, 96, 96, 3) and out.dtype == np.uint8
    # the original's datagen: lower half of the target zeroed, concat with the reference,
    # /255, NCHW; output *255 and truncated to uint8
    masked = faces.copy()
    masked[:, 48:] = 0
    x = np.concatenate([masked, faces], axis=3) / 255.0
    x_t = torch.from_numpy(x.transpose(0, 3, 1, 2)).float()
    with torch.inference_mode():
        pred = parity_net(torch.from_numpy(mels)[:, None], x_t).numpy()
    want = (pred.transpose(0, 2, 3, 1) * 255.0).astype(np.uint8)
    diff = np.abs(out.astype(np.int16) - want.astype(np.int16))
    assert diff.max() <= 1
    assert (diff > 0).mean() < 1e-3


def test_sync_batch_independent(parity_ckpt: Path) -> None:
    from lipdub.lipsync.wav2lip import Wav2LipSyncer

    syncer = Wav2LipSyncer.from_pretrained(parity_ckpt, device="cpu", precision="fp32")
    faces, mels = _faces(4, 1), _mels(4, 1)
    whole = syncer.sync(faces, mels)
    parts = np.concatenate([syncer.sync(faces[:1], mels[:1]), syncer.sync(faces[1:], mels[1:])])
    assert np.abs(whole.astype(int) - parts.astype(int)).max() <= 1
    assert syncer.sync(faces[:0], mels[:0]).shape == (0, 96, 96, 3)
    assert syncer.suggested_batch_size() == 16
    assert syncer.to("cpu") is syncer


def test_sync_rejects_bad_input(parity_ckpt: Path) -> None:
    from lipdub.errors import InputError
    from lipdub.lipsync.wav2lip import Wav2LipSyncer

    syncer = Wav2LipSyncer.from_pretrained(parity_ckpt, device="cpu", precision="fp32")
    with pytest.raises(InputError, match="faces"):
        syncer.sync(np.zeros((1, 64, 64, 3), np.uint8), _mels(1))
    with pytest.raises(InputError, match="uint8"):
        syncer.sync(np.zeros((1, 96, 96, 3), np.float32), _mels(1))  # type: ignore[arg-type]
    with pytest.raises(InputError, match="mel"):
        syncer.sync(_faces(1), np.zeros((1, 80, 12), np.float32))
    with pytest.raises(InputError, match="2 faces but 1"):
        syncer.sync(_faces(2), _mels(1))
    with pytest.raises(InputError, match="float16"):
        Wav2LipSyncer.from_pretrained(parity_ckpt, device="cpu", dtype="float16")


def test_from_pretrained_through_the_hub_cache(tmp_path: Path, parity_ckpt: Path) -> None:
    from lipdub.errors import ChecksumMismatch, ModelNotFoundError
    from lipdub.hub import register_weights
    from lipdub.lipsync.wav2lip import Wav2LipSyncer
    from lipdub.testing.checkpoints import prefilled_hub_cache, spec_for_file

    cache = tmp_path / "hf"
    with pytest.raises(ModelNotFoundError, match="lipdub weights download wav2lip_gan"):
        Wav2LipSyncer.from_pretrained("wav2lip_gan", cache_dir=cache, local_files_only=True)
    # random weights under the published name are rejected by the size check ...
    prefilled_hub_cache(cache, "wav2lip_gan", parity_ckpt)
    with pytest.raises(ChecksumMismatch, match="wav2lip_gan"):
        Wav2LipSyncer.from_pretrained("wav2lip_gan", cache_dir=cache, local_files_only=True)
    # ... while a registered spec that describes them loads through the same path
    spec = spec_for_file("wav2lip-parity-test", parity_ckpt)
    register_weights(spec, replace=True)
    prefilled_hub_cache(cache, spec, parity_ckpt)
    syncer = Wav2LipSyncer.from_pretrained(
        "wav2lip-parity-test", cache_dir=cache, local_files_only=True, device="cpu", dtype="float32"
    )
    assert syncer.model_name == "wav2lip-parity-test"
    assert syncer.sync(_faces(1), _mels(1)).shape == (1, 96, 96, 3)


def test_from_pretrained_wrong_network(tmp_path: Path) -> None:
    from lipdub.lipsync.wav2lip import Wav2LipSyncer
    from lipdub.testing.checkpoints import write_random_checkpoint

    p = write_random_checkpoint(
        tmp_path / "s3fd.pth", [["conv1_1.weight", [64, 3, 3, 3], "float32"]]
    )
    with pytest.raises(CheckpointError, match="expected 352 Wav2Lip tensors"):
        Wav2LipSyncer.from_pretrained(p)


def test_settings_name_the_weights_not_their_place_device_or_token(
    tmp_path: Path, parity_ckpt: Path
) -> None:
    import shutil

    from lipdub.hub import register_weights, sha256_file
    from lipdub.lipsync.wav2lip import Wav2LipSyncer
    from lipdub.testing.checkpoints import prefilled_hub_cache, spec_for_file

    cpu = Wav2LipSyncer.from_pretrained(parity_ckpt, device="cpu", precision="fp32")
    base = cpu.settings()
    assert base == {
        "model": "wav2lip.pth",
        "weights_sha256": sha256_file(parity_ckpt),
        "precision": "fp32",
    }
    assert cpu.to("meta").settings() == base  # another device (meta exists everywhere)
    moved = shutil.copy(parity_ckpt, tmp_path / "wav2lip.pth")
    same = Wav2LipSyncer.from_pretrained(moved, device="meta", token="hf_not_a_real_token")
    assert same.settings() == base  # "auto" with nothing to measure on is fp32
    # a published-style name: the digest comes from the spec, whichever cache holds it
    spec = spec_for_file("wav2lip-settings-test", parity_ckpt)
    register_weights(spec, replace=True)
    prefilled_hub_cache(tmp_path / "hf", spec, parity_ckpt)
    named = Wav2LipSyncer.from_pretrained(
        "wav2lip-settings-test",
        cache_dir=tmp_path / "hf",
        local_files_only=True,
        token="hf_x",
        precision="fp32",
    ).settings()
    assert named == {**base, "model": "wav2lip-settings-test"}


def test_settings_of_an_in_memory_network_hash_its_weights() -> None:
    from lipdub.lipsync.wav2lip import Wav2LipSyncer

    torch.manual_seed(0)
    net = Wav2Lip()
    a = Wav2LipSyncer(net, device="cpu", precision="fp32").settings()
    assert a == Wav2LipSyncer(net, device="cpu", precision="fp32").settings()
    assert len(a["weights_sha256"]) == 64
    with torch.no_grad():
        next(net.parameters()).add_(1.0)
    assert Wav2LipSyncer(net, device="cpu", precision="fp32").settings() != a


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_keeps_the_settings(parity_ckpt: Path) -> None:
    from lipdub.faces.s3fd import S3FDFaceDetector
    from lipdub.lipsync.wav2lip import Wav2LipSyncer
    from lipdub.models.s3fd import S3FD

    # an explicit precision gives the same outputs, so the same settings, on each device
    cpu = Wav2LipSyncer.from_pretrained(parity_ckpt, device="cpu", precision="fp32")
    gpu = Wav2LipSyncer.from_pretrained(parity_ckpt, device="cuda", precision="fp32")
    assert gpu.settings() == cpu.settings()
    assert cpu.to("cuda").settings() == gpu.settings()
    # "auto" resolves per device: float16 on CUDA when it passes the fidelity bound
    auto = Wav2LipSyncer.from_pretrained(parity_ckpt, device="cuda")
    assert auto.precision == "fp16" and auto.settings()["precision"] == "fp16"
    assert auto.auto_choice is not None and "fp16" in auto.auto_choice.reason()
    torch.manual_seed(0)
    net = S3FD()
    on_cpu = S3FDFaceDetector(net, device="cpu").settings()
    assert S3FDFaceDetector(net, device="cuda").settings() == on_cpu


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_sync_cuda_fp16_close_to_cpu(parity_ckpt: Path) -> None:
    from lipdub.lipsync.wav2lip import Wav2LipSyncer

    cpu = Wav2LipSyncer.from_pretrained(parity_ckpt, device="cpu", precision="fp32")
    gpu = Wav2LipSyncer.from_pretrained(parity_ckpt, device="cuda")
    assert gpu.dtype == torch.float16 and gpu.suggested_batch_size() == 128
    faces, mels = _faces(8, 2), _mels(8, 2)
    a = cpu.sync(faces, mels).astype(np.int16)
    b = gpu.sync(faces, mels).astype(np.int16)
    assert b.shape == a.shape
    assert np.abs(a - b).mean() < 1.0
    assert np.abs(a - b).max() <= 16
    f32 = Wav2LipSyncer.from_pretrained(parity_ckpt, device="cuda", dtype="float32")
    assert np.abs(f32.sync(faces, mels).astype(np.int16) - a).max() <= 2


# --------------------------------------------------------------------------- SyncNet


def test_syncnet_layout_and_strict_load(tmp_path: Path) -> None:
    from lipdub.models.syncnet import SyncNet, sync_similarity, syncnet_manifest
    from lipdub.testing.checkpoints import write_random_checkpoint

    net = SyncNet()
    assert len(net.state_dict()) == 217
    assert count_parameters(net) == 16_435_072
    assert count_parameters(net, [torch.nn.BatchNorm2d]) == 31
    p = write_random_checkpoint(tmp_path / "expert.pth", syncnet_manifest(), format="original")
    shapes = {k: s for k, s, _ in syncnet_manifest()}
    net.load_state_dict(load_state_dict(p, expected_shapes=shapes, what="SyncNet"), strict=True)
    net.eval()
    with torch.inference_mode():
        a, v = net(torch.randn(3, 1, 80, 16), torch.rand(3, 15, 48, 96))
    assert tuple(a.shape) == (3, 512) and tuple(v.shape) == (3, 512)
    torch.testing.assert_close(a.norm(dim=1), torch.ones(3))
    sim = sync_similarity(a, v)
    assert tuple(sim.shape) == (3,) and float(sim.abs().max()) <= 1.0 + 1e-6
    # a Wav2Lip file is not a SyncNet
    keys_only = [(k, (1,), "float32") for k, _, _ in wav2lip_manifest()]
    w = write_random_checkpoint(tmp_path / "w2l.pth", keys_only)
    with pytest.raises(CheckpointError, match="Wav2Lip generator"):
        load_state_dict(w, expected_shapes=shapes, what="SyncNet")
