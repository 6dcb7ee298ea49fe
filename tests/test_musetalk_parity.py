"""MuseTalk 1.5 computes what the original computes: every stage against the parity kit
(``tests/data/musetalk``: the original code run on the kit's deterministic weights,
which the ``musetalk_weights`` fixture rebuilds from their rule), each stage fed with
the kit's own input of that stage, and end to end from the face PNG and the WAV.

Tolerances are the kit's: float stages max abs <= 1e-4, the VAE inputs exact, decoded
faces max abs <= 1 level with >= 99 % of values identical. A few frames only: on 2 CPU
cores a UNet pass is ~3 s a frame and a VAE decode ~9-15 s a face.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from lipdub.lipsync.musetalk import MuseTalkSyncer
from lipdub.media.audio import load_audio
from lipdub.models.musetalk import face_inputs

KIT = Path(__file__).resolve().parent / "data" / "musetalk"
FLOAT_TOL = 1e-4


def ref(name: str) -> np.ndarray:
    return np.load(KIT / f"{name}.npy")


def close(got: np.ndarray | torch.Tensor, name: str, sl: slice = slice(None)) -> float:
    want = ref(name)[sl]
    arr = got.numpy() if isinstance(got, torch.Tensor) else np.asarray(got)
    assert arr.shape == want.shape, (name, arr.shape, want.shape)
    err = float(np.abs(arr.astype(np.float64) - want.astype(np.float64)).max())
    assert err <= FLOAT_TOL, f"{name}: max abs {err:.3g} > {FLOAT_TOL}"
    return err


def same_faces(got: np.ndarray, name: str, sl: slice) -> None:
    want = ref(name)[sl]
    assert got.shape == want.shape and got.dtype == np.uint8
    diff = np.abs(got.astype(np.int16) - want.astype(np.int16))
    assert int(diff.max()) <= 1, f"{name}: max diff {int(diff.max())}"
    assert float((diff == 0).mean()) >= 0.99, f"{name}: {(diff == 0).mean():.4f} identical"


@pytest.fixture(scope="module")
def syncer(musetalk_weights: Path) -> MuseTalkSyncer:
    torch.set_num_threads(2)
    return MuseTalkSyncer.from_pretrained(
        weights_dir=musetalk_weights, precision="fp32", device="cpu"
    )


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    img = cv2.imread(str(KIT / "input_face_256.png"))
    assert img is not None and img.shape == (256, 256, 3)
    return img


def test_audio_stages_isolated_and_end_to_end(syncer: MuseTalkSyncer) -> None:
    clip = load_audio(KIT / "input_16k.wav")
    assert clip.sample_rate_hz == 16000
    assert float(np.abs(clip.samples - ref("audio_16k")).max()) <= 1e-6
    net = syncer.net
    # (a) the Whisper log-mel features, padded to 30 s
    (features,) = net.whisper_features(clip.samples)
    close(features, "whisper_input_features")
    # the encoder's 5 hidden states, fed the kit's features
    kit_features = torch.from_numpy(ref("whisper_input_features"))
    states = net.whisper_states(clip.samples, [kit_features])
    close(np.moveaxis(states, -1, 0), "whisper_encoder_states")
    # (b) the per-frame prompts, fed the kit's states
    kit_states = np.moveaxis(ref("whisper_encoder_states"), 0, -1)
    prompts = np.stack([syncer.audio_window(kit_states, i, 25) for i in range(25)])
    close(prompts, "audio_prompts")
    close(net.prompts(ref("audio_prompts")).cpu(), "audio_prompts_pe")
    # end to end: from the WAV through the syncer's own audio hooks
    feats = syncer.audio_features(clip)
    assert feats.shape == (5, 384, 50)
    e2e = np.stack([syncer.audio_window(feats, i, 25) for i in range(25)])
    close(e2e, "audio_prompts")
    close(net.prompts(e2e).cpu(), "audio_prompts_pe")


def test_vae_inputs_are_exact_and_latents_match(syncer: MuseTalkSyncer, face: np.ndarray) -> None:
    masked, whole = face_inputs(face[None])
    assert np.abs(masked - ref("vae_input_masked")).max() <= 1e-6
    assert np.abs(whole - ref("vae_input_ref")).max() <= 1e-6
    assert (masked[:, :, 128:] == -1.0).all()  # black before the normalisation
    # (c) the 8-channel latents, masked first
    close(syncer.latents(face[None]), "unet_input_latents")


def test_unet_and_decode_isolated(syncer: MuseTalkSyncer) -> None:
    net = syncer.net
    latents = torch.from_numpy(ref("unet_input_latents")).repeat(2, 1, 1, 1)
    prompts = torch.from_numpy(ref("audio_prompts_pe")[12:14])  # frames 12-13: batch 3
    # (d) one UNet pass at timestep 0, fed the kit's latents and prompts
    close(net.generate(latents, prompts), "unet_out_batch3", slice(0, 2))
    # (e) the VAE decode of the kit's UNet output: BGR uint8
    same_faces(
        net.decode(torch.from_numpy(ref("unet_out_batch3")[:1])), "faces_bgr_batch3", slice(0, 1)
    )


def test_end_to_end_from_png_and_wav(syncer: MuseTalkSyncer, face: np.ndarray) -> None:
    net = syncer.net
    feats = syncer.audio_features(load_audio(KIT / "input_16k.wav"))
    windows = np.stack([syncer.audio_window(feats, i, 25) for i in range(2)])
    latents = syncer.latents(np.stack([face, face]))
    out = net.generate(latents, net.prompts(windows))
    close(out, "unet_out_batch0", slice(0, 2))
    same_faces(net.decode(out[:1]), "faces_bgr_batch0", slice(0, 1))
    # the syncer's own call (the engine's path) gives the same face
    same_faces(syncer.sync(face[None], windows[:1]), "faces_bgr_batch0", slice(0, 1))


def test_bf16_shares_the_networks_and_is_measured_against_fp32(
    syncer: MuseTalkSyncer, face: np.ndarray
) -> None:
    """The CPU's reduced precision runs (autocast over the same float32 networks; the
    audio features stay float32) and gives the faces ``auto`` compares with fp32's."""
    from lipdub.lipsync.auto_precision import psnr_db

    bf16 = MuseTalkSyncer(syncer.net, precision="bf16", device="cpu")
    assert bf16.precision == "bf16" and bf16.settings()["precision"] == "bf16"
    clip = load_audio(KIT / "input_16k.wav")
    feats = bf16.audio_features(clip)
    assert feats.dtype == np.float32
    assert np.array_equal(feats, syncer.audio_features(clip))
    window = bf16.audio_window(feats, 12, 25)[None]
    got, want = bf16.sync(face[None], window), syncer.sync(face[None], window)
    assert got.shape == want.shape == (1, 256, 256, 3) and got.dtype == np.uint8
    value = psnr_db(got, want)
    print(f"bf16 against fp32: {value:.1f} dB PSNR")
    assert 10.0 < value < float("inf")
