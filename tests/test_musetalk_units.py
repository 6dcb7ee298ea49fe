"""MuseTalk's arithmetic between the networks, against the parity kit, without weights
(fast): the per-frame audio windows, the positional encoding, the VAE's inputs, and the
weights rule."""

from __future__ import annotations

import zlib
from pathlib import Path

import cv2
import numpy as np

from lipdub.models.musetalk import audio_prompt, face_inputs, positional_encoding
from lipdub.testing.musetalk_weights import rule_tensor

KIT = Path(__file__).resolve().parent / "data" / "musetalk"


def test_audio_windows_match_the_kit_and_are_zero_past_the_audio() -> None:
    states = np.moveaxis(np.load(KIT / "whisper_encoder_states.npy"), 0, -1)  # (5, 384, 50)
    want = np.load(KIT / "audio_prompts.npy")
    got = np.stack([audio_prompt(states, i, 25) for i in range(25)])
    assert np.array_equal(got, want)
    # frame f is centred on row 2f+1: rows 2f-4 .. 2f+5, time-major (row, layer)
    f = 12
    rows = np.moveaxis(states[:, :, 2 * f - 4 : 2 * f + 6], -1, 0)
    assert np.array_equal(got[f], rows.reshape(50, 384))
    assert not audio_prompt(states, 100, 25).any()  # a frame past the audio: silence
    # other frame rates: the original's rule (row floor(f * 50 / fps), 2 * ceil(50 / fps) pad)
    assert audio_prompt(states, 3, 30).shape == (50, 384)
    at_30 = audio_prompt(states, 3, 30).reshape(10, 5, 384)
    start = int(3 * 50 / 30) - 4
    assert np.array_equal(at_30[0], states[:, :, start])


def test_positional_encoding_is_the_kit_s() -> None:
    added = np.load(KIT / "audio_prompts_pe.npy") - np.load(KIT / "audio_prompts.npy")
    assert np.abs(added - positional_encoding(50, 384)[None]).max() <= 1e-5


def test_vae_inputs_are_exact() -> None:
    face = cv2.imread(str(KIT / "input_face_256.png"))
    masked, whole = face_inputs(face[None])
    assert np.array_equal(masked, np.load(KIT / "vae_input_masked.npy"))
    assert np.array_equal(whole, np.load(KIT / "vae_input_ref.npy"))


def test_weights_rule() -> None:
    key = "down_blocks.0.resnets.0.conv1.weight"
    a = rule_tensor(key, (320, 320, 3, 3))
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    want = (rng.standard_normal((320, 320, 3, 3)) / np.sqrt(320 * 9)).astype(np.float32)
    assert a.dtype == np.float32 and np.array_equal(a, want)
    gain = rule_tensor("norm.weight", (64,))
    assert (np.abs(gain - 1) <= 0.1).all()
    bias = rule_tensor("quant_conv.bias", (8,))
    assert (bias[4:] == -100).all() and (np.abs(bias[:4]) < 0.2).all()
