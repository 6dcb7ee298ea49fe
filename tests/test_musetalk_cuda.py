"""MuseTalk on CUDA (run by ``benchmarks/gpu.sh``; skipped without a GPU): fp16, batched,
stays within 35 dB PSNR of lipdub's own fp32 faces, and fp32 on the GPU (TF32 off) keeps
parity with the kit's decoded faces."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

KIT = Path(__file__).resolve().parent / "data" / "musetalk"


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_fp16_batched_within_35_db_of_fp32(musetalk_weights: Path) -> None:
    from lipdub.lipsync.auto_precision import psnr_db
    from lipdub.lipsync.musetalk import MuseTalkSyncer

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    syncer = MuseTalkSyncer.from_pretrained(
        weights_dir=musetalk_weights, device="cuda", precision="fp16"
    )
    face = cv2.imread(str(KIT / "input_face_256.png"))
    prompts = np.load(KIT / "audio_prompts.npy")[:16]
    faces = np.repeat(face[None], 16, axis=0)
    fp16 = syncer.sync(faces, prompts)
    fp32 = syncer._run(faces, prompts, "fp32", cache=False)
    assert psnr_db(fp16, fp32) >= 35.0
    want = np.load(KIT / "faces_bgr_batch0.npy")
    diff = np.abs(fp32[:4].astype(np.int16) - want.astype(np.int16))
    assert int(diff.max()) <= 1 and float((diff == 0).mean()) >= 0.99
