"""Wav2Lip precision modes (fidelity against float32) and the ellipse mouth mask."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lipdub.errors import InputError
from lipdub.lipsync.blend import blend_mask, paste_face
from lipdub.lipsync.mask import ellipse_mask
from lipdub.types import FaceBox


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lipdub.testing.checkpoints import write_random_wav2lip_checkpoint

    return write_random_wav2lip_checkpoint(tmp_path_factory.mktemp("w") / "w.pth", seed=0)


def _inputs(n: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Real face crops (the bundled portrait, shifted) and mel-like windows."""
    import cv2

    from lipdub.media import read_image
    from lipdub.testing.media import sample_portrait_path

    img = read_image(sample_portrait_path())
    h, w = img.shape[:2]
    rng = np.random.default_rng(0)
    faces = []
    for k in range(n):
        d = 4 * k
        faces.append(cv2.resize(img[d : h - d, d : w - d], (96, 96)))
    mels = rng.uniform(-4, 1, (n, 80, 16)).astype(np.float32)
    return np.stack(faces), mels


def test_fp32_precision_is_the_reference_bit_for_bit(ckpt: Path) -> None:
    from lipdub.lipsync.wav2lip import Wav2LipSyncer

    faces, mels = _inputs()
    ref = Wav2LipSyncer.from_pretrained(ckpt, device="cpu", dtype="float32").sync(faces, mels)
    fp32 = Wav2LipSyncer.from_pretrained(ckpt, device="cpu", precision="fp32")
    assert np.array_equal(fp32.sync(faces, mels), ref)
    assert fp32.settings()["precision"] == "fp32" and fp32.auto_choice is None
    # the default is "auto", resolved only when needed (nothing measured on loading)
    default = Wav2LipSyncer.from_pretrained(ckpt, device="cpu")
    assert default.requested_precision == "auto" and default.auto_choice is None


def test_bf16_is_close_to_fp32_and_named_in_the_settings(ckpt: Path) -> None:
    from lipdub.lipsync.wav2lip import Wav2LipSyncer

    faces, mels = _inputs()
    ref = Wav2LipSyncer.from_pretrained(ckpt, device="cpu", precision="fp32").sync(faces, mels)
    bf16 = Wav2LipSyncer.from_pretrained(ckpt, device="cpu", precision="bf16")
    out = bf16.sync(faces, mels)
    diff = np.abs(out.astype(int) - ref.astype(int))
    mse = float((diff.astype(float) ** 2).mean())
    psnr = float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)
    assert psnr >= 40.0 and diff.max() <= 16
    assert bf16.settings()["precision"] == "bf16" and bf16.precision == "bf16"


def test_precisions_a_device_cannot_run_are_refused(ckpt: Path) -> None:
    from lipdub.lipsync.wav2lip import Wav2LipSyncer, auto_candidates

    # the device check needs no such device here
    with pytest.raises(InputError, match="precision 'int8' runs Wav2Lip on the CPU only"):
        Wav2LipSyncer.check_precision("int8", "cuda:0")
    with pytest.raises(InputError, match="precision 'fp16' runs Wav2Lip on CUDA only"):
        Wav2LipSyncer.check_precision("fp16", "cpu")
    with pytest.raises(InputError, match="float16"):  # as a dtype, the one dtype message
        Wav2LipSyncer.from_pretrained(ckpt, device="cpu", dtype="float16")
    assert auto_candidates("cuda:0") == (["fp32", "fp16"], {})
    assert auto_candidates("cpu")[0][0] == "fp32"
    with pytest.raises(InputError, match="unknown precision"):
        Wav2LipSyncer.from_pretrained(ckpt, device="cpu", precision="fp8")
    # a device with nothing to measure on takes the reference
    assert Wav2LipSyncer.from_pretrained(ckpt, device="meta").precision == "fp32"


def test_ellipse_mask_is_zero_on_the_border_and_one_on_the_mouth() -> None:
    m = ellipse_mask(120, 100)
    assert float(m[0].max()) == float(m[-1].max()) == 0.0
    assert float(m[:, 0].max()) == float(m[:, -1].max()) == 0.0
    assert float(m[:55].max()) < 0.05  # the upper face stays the frame's
    assert float(m[90, 50]) > 0.97
    # no straight edge: the mask's extent varies from row to row across its band
    widths = [(row > 0.5).sum() for row in m if (row > 0.5).any()]
    assert len(set(widths)) > 5


def test_landmarks_place_the_ellipse() -> None:
    marks = ((30.0, 40.0), (70.0, 40.0), (50.0, 62.0), (35.0, 85.0), (65.0, 85.0))
    m = ellipse_mask(120, 100, marks)
    ys, xs = np.nonzero(m > 0.5)
    assert 45 <= xs.mean() <= 55 and ys.min() >= 60


def test_ellipse_paste_is_smoother_than_the_box() -> None:
    frame = np.full((200, 200, 3), 100, np.uint8)
    box = FaceBox(50, 40, 150, 170)
    gen = np.full((96, 96, 3), 140, np.uint8)
    energies = {}
    for shape in ("box", "ellipse"):
        out = paste_face(frame, box, gen, shape=shape)  # type: ignore[arg-type]
        assert np.array_equal(out[:, :50], frame[:, :50])  # outside the box untouched
        gy, gx = np.gradient(out[..., 0].astype(float))
        energies[shape] = float((gx**2 + gy**2).sum())
    assert energies["ellipse"] < 0.6 * energies["box"]
    assert blend_mask(130, 100).shape == (130, 100)
