"""``lipdub dub --lipsyncer musetalk`` with the parity kit's deterministic weights (given
through ``--opt lipsyncer.weights_dir``), into two languages at once:

* each frame's crop latents (masked and whole) are encoded once for both languages:
  the VAE encoder's calls are counted (a forward hook on diffusers' encoder module);
* the pasted mouth region is lipdub's own decode of that frame's crop, warped back: the
  output's frames equal the source frames with that decode pasted by the engine's
  paste (ellipse mask, no colour match), within 2 levels inside the mask. The dub is
  written lossless (``--crf 0``) so that H.264 cannot turn the decode's float-order
  noise (1 level in ~70 values between a batch of one and of two) into more;
* outside the mouth the output stays within 35 dB PSNR of the source.

A 1 s clip at 4 frames/s (the dubbed speech covers two of them), since on 2 CPU cores
one MuseTalk frame costs about 30-45 s (UNet ~14 s, VAE decode ~15 s, two encodes ~14 s).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lipdub.cli import main
from lipdub.lipsync.blend import crop_face, mouth_top_from_landmarks, paste_face
from lipdub.lipsync.musetalk import MuseTalkSyncer
from lipdub.media import VideoWriter, iter_frames, load_audio
from lipdub.media.look import VideoLook
from lipdub.types import FaceBox

FAKES = ["--transcriber", "fake", "--translator", "fake", "--tts", "fake", "--detector", "fake"]
FPS = 4
SIZE = (160, 120)
#: The fake detector's box (the middle half of the frame), with the engine's default
#: pads (0, 10, 0, 0): MuseTalk 1.5's 10 px below the chin.
BOX = FaceBox(40.0, 30.0, 120.0, 100.0)


def _frames(path: Path) -> list[np.ndarray]:
    return [np.array(f) for f in iter_frames(path)]


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def test_dub_two_languages_encodes_each_crop_once_and_pastes_its_decode(
    tmp_path: Path, make_video: Any, musetalk_weights: Path
) -> None:
    video = make_video("talk.mp4", duration_s=1.0, fps=FPS, size=SIZE)
    rows: list[int] = []

    def count(module: torch.nn.Module, args: Any, out: Any) -> None:
        if type(module).__name__ == "Encoder" and type(module).__module__.startswith("diffusers"):
            rows.append(int(args[0].shape[0]))

    wd = tmp_path / "wd"
    args = ["dub", str(video), "--to", "es,fr", *FAKES, "--lipsyncer", "musetalk"]
    args += ["--precision", "fp32", "--opt", f"lipsyncer.weights_dir={musetalk_weights}"]
    args += ["--workdir", str(wd), "-o", str(tmp_path / "talk.{lang}.mp4"), "-q", "--crf", "0"]
    hook = torch.nn.modules.module.register_module_forward_hook(count)
    try:
        assert main(args) == 0
    finally:
        hook.remove()

    source = _frames(video)
    assert len(source) == FPS
    outputs = {lang: _frames(tmp_path / f"talk.{lang}.mp4") for lang in ("es", "fr")}
    # the mask: where the engine's paste takes the generated face
    white = np.full((256, 256, 3), 255, np.uint8)
    blank = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    top = mouth_top_from_landmarks(BOX)
    inside = paste_face(blank, BOX, white, mouth_top=top, shape="ellipse")[..., 0] > 0
    outside = ~inside
    assert inside.sum() > 500

    def synced(frames: list[np.ndarray]) -> list[int]:
        """The frames whose mouth was redrawn (the others pass through unchanged)."""
        return [
            i
            for i, (f, s) in enumerate(zip(frames, source, strict=True))
            if float(np.abs(f.astype(np.int16) - s.astype(np.int16))[inside].mean()) > 4.0
        ]

    crops = [crop_face(f, BOX, 256) for f in source]
    in_speech = {lang: synced(frames) for lang, frames in outputs.items()}
    assert all(in_speech.values()), in_speech
    distinct = {crops[i].tobytes() for ids in in_speech.values() for i in ids}
    # avatar reuse: every crop's two encodings (masked, whole) once, for both languages
    assert sum(rows) == 2 * len(distinct), (rows, in_speech)

    syncer = MuseTalkSyncer.from_pretrained(
        weights_dir=musetalk_weights, precision="fp32", device="cpu"
    )
    feats = syncer.audio_features(load_audio(wd / "speech.es.wav", sample_rate_hz=16000))
    # one batch, as the engine ran them (a batch's size can change the float sums)
    ids = in_speech["es"]
    windows = np.stack([syncer.audio_window(feats, i, FPS) for i in ids])
    decoded = dict(zip(ids, syncer.sync(np.stack([crops[i] for i in ids]), windows), strict=True))
    expected = [
        paste_face(frame, BOX, decoded[i], mouth_top=top, shape="ellipse") if i in ids else frame
        for i, frame in enumerate(source)
    ]
    # through the same writer as the engine's (lossless here, the input's look)
    want_path = tmp_path / "expected.mp4"
    look = VideoLook.of(video)
    with VideoWriter(
        want_path, fps=FPS, width=SIZE[0], height=SIZE[1], crf=0, preset="veryfast", look=look
    ) as writer:
        for f in expected:
            writer.write(f)
    want = _frames(want_path)
    assert len(want) == len(outputs["es"]) == FPS
    for i in in_speech["es"]:
        diff = np.abs(outputs["es"][i].astype(np.int16) - want[i].astype(np.int16))[inside]
        # the same face, within 2 levels
        assert int(diff.max()) <= 2, (i, int(diff.max()), float(diff.mean()))
    for lang, frames in outputs.items():
        value = _psnr(np.stack(frames)[:, outside], np.stack(source)[:, outside])
        assert value >= 35.0, (lang, value)
