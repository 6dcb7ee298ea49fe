"""Eyes on the mouth (``lipdub.eval.mouth``): sharpness and stability, on the bundled
real portrait (a photo, not drawn gradients)."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from lipdub.data import PORTRAIT_FACE, portrait_path
from lipdub.eval.compare import outside_mouth_mask
from lipdub.eval.mouth import (
    SILENCE_MARGIN_FRAMES,
    detail_energy,
    measure_frames,
    mouth_rect,
    noise_sigma,
    silent_frames,
)
from lipdub.types import FaceBox

Image = npt.NDArray[np.uint8]
WHOLE = FaceBox(0, 0, 256, 256)


def _portrait() -> Image:
    img = cv2.imread(str(portrait_path()))
    assert img is not None and img.shape == (320, 300, 3)
    return np.asarray(img, np.uint8)


def _face_256() -> Image:
    """The portrait's face box resized to 256 x 256: the face a 256-px renderer sees."""
    x1, y1, x2, y2 = (int(v) for v in PORTRAIT_FACE)
    return np.asarray(cv2.resize(_portrait()[y1:y2, x1:x2], (256, 256)), np.uint8)


def _square_256() -> Image:
    """A 256 x 256 square of the photo around the face, at the photo's own resolution."""
    return _portrait()[0:256, 26:282].copy()


def _round_trip(img: Image, px: int) -> Image:
    """Down to ``px`` x ``px`` and back up, with cv2.resize's default (bilinear) both
    ways, as Wav2Lip resizes its 96-px faces."""
    small = cv2.resize(img, (px, px))
    return np.asarray(cv2.resize(small, (img.shape[1], img.shape[0])), np.uint8)


def _psnr(a: Image, b: Image) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / mse)


def _noisy(img: Image, seed: int, psnr_db: float = 30.0) -> Image:
    """Gaussian noise (independent per channel) at exactly ``psnr_db`` against ``img``,
    after rounding and clipping to 0..255 (the level is corrected for the clipping)."""
    sd = 255.0 / 10 ** (psnr_db / 20)
    unit = np.random.default_rng(seed).normal(0.0, 1.0, img.shape)
    for _ in range(4):
        out = np.asarray(np.clip(np.round(img + sd * unit), 0, 255), np.uint8)
        sd *= 10 ** ((_psnr(out, img) - psnr_db) / 20)
    assert _psnr(out, img) == pytest.approx(psnr_db, abs=0.02)
    return out


def _sharpness(dub: Image, source: Image) -> float:
    r = measure_frames([dub], [source], [WHOLE])
    assert r.frames == 1 and r.sharpness is not None
    return r.sharpness


def test_the_mouth_region_is_the_one_the_psnr_leaves_out() -> None:
    box = FaceBox(*PORTRAIT_FACE)
    x1, y1, x2, y2 = mouth_rect(box, (320, 300, 3))
    assert (x1, y1, x2, y2) == (97, 116, 212, 188)
    mask = outside_mouth_mask((320, 300, 3), box)
    assert not mask[y1:y2, x1:x2].any() and mask.sum() == 320 * 300 - (x2 - x1) * (y2 - y1)
    assert mouth_rect(FaceBox(250, 300, 400, 420), (320, 300)) == (235, 320, 300, 320)


def test_sharpness_ranks_a_256px_mouth_above_the_same_mouth_through_96px() -> None:
    face = _face_256()
    assert _sharpness(face, face) == pytest.approx(1.0)
    soft = _sharpness(_round_trip(face, 96), face)
    # the photo's face box is 95 x 119 px, so its 256-px version holds less above what
    # 96 px can carry than a real 256-px face would: 0.64 is left (measured)
    assert soft < 0.75
    # at the photo's own resolution every pixel is detail: through 96 px, 0.49 is left
    square = _square_256()
    ratio = detail_energy(_round_trip(square, 96)) / detail_energy(square)
    assert ratio < 0.6
    # and a 256-px render of the 256-px face loses nothing
    assert _sharpness(_round_trip(face, 256), face) == pytest.approx(1.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noise_at_30db_does_not_score_above_the_clean_source(seed: int) -> None:
    for clean in (_face_256(), _square_256()):
        noisy = _noisy(clean, seed)
        assert _sharpness(noisy, clean) < 0.92  # 0.79 (face), 0.88 (square) measured
        # what the shrinkage is for: the plain band energy counts the noise as detail
        # (+8.5 % on the face, +2 % on the square: grey averages the channels' noise)
        assert detail_energy(noisy, noise=0.0) > 1.01 * detail_energy(clean, noise=0.0)
        # a soft mouth cannot buy sharpness with grain
        soft = _round_trip(clean, 96)
        assert _sharpness(_noisy(soft, seed), clean) < _sharpness(soft, clean)


def test_the_noise_estimate_sees_the_noise_not_the_edges() -> None:
    grey = cv2.cvtColor(_face_256(), cv2.COLOR_BGR2GRAY)
    assert noise_sigma(grey) < 2.0
    noise = np.random.default_rng(0).normal(0.0, 8.0, grey.shape)
    assert noise_sigma(grey + noise) == pytest.approx(8.0, rel=0.1)


def _jittered(frame: Image, box: FaceBox, seed: int) -> Image:
    """``frame`` with its mouth region moved by a random sub-pixel shift (< 1 px)."""
    x1, y1, x2, y2 = mouth_rect(box, frame.shape)
    dx, dy = np.random.default_rng(seed).uniform(-1.0, 1.0, 2)
    shift = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])
    moved = cv2.warpAffine(frame, shift, (frame.shape[1], frame.shape[0]))
    out = frame.copy()
    out[y1:y2, x1:x2] = moved[y1:y2, x1:x2]
    return out


def test_stability_flags_a_jittering_mouth_and_not_a_still_one() -> None:
    frame, box = _portrait(), FaceBox(*PORTRAIT_FACE)
    still = [frame] * 12
    jitter = [_jittered(frame, box, seed) for seed in range(12)]
    quiet = [True] * 12
    r_still = measure_frames(still, still, [box] * 12, quiet)
    r_jitter = measure_frames(jitter, still, [box] * 12, quiet)
    assert r_still.silent_pairs == r_jitter.silent_pairs == 11
    assert r_still.jitter == 0.0 and r_still.source_jitter == 0.0
    assert r_jitter.jitter is not None and r_jitter.jitter > 4.0  # 7.5 levels measured
    assert r_jitter.source_jitter == 0.0
    # the same frames while someone speaks: nothing to judge, and the report says so
    loud = measure_frames(jitter, still, [box] * 12, [False] * 12)
    assert loud.silent_pairs == 0 and loud.jitter is None and loud.source_jitter is None


def test_head_motion_counts_in_the_source_too() -> None:
    frame, box = _portrait(), FaceBox(*PORTRAIT_FACE)
    moving = [np.roll(frame, k, axis=1) for k in range(8)]
    boxes = [FaceBox(box.x1 + k, box.y1, box.x2 + k, box.y2) for k in range(8)]
    r = measure_frames(moving, moving, boxes, [True] * 8)
    assert r.jitter is not None and r.jitter > 1.0
    assert r.source_jitter == pytest.approx(r.jitter)
    assert r.sharpness == pytest.approx(1.0)


def test_frames_without_a_face_are_not_measured() -> None:
    frame, box = _portrait(), FaceBox(*PORTRAIT_FACE)
    r = measure_frames([frame] * 4, None, [box, None, box, box], [True] * 4)
    assert r.frames == 3 and r.silent_pairs == 1  # only 2 -> 3 has both faces
    assert r.sharpness is None and r.source_detail is None and r.source_jitter is None
    assert r.detail > 0


def test_silence_is_read_from_the_level_with_a_margin() -> None:
    sr = 16000
    t = np.arange(sr) / sr
    tone = (0.3 * 32767 * np.sin(2 * np.pi * 220 * t)).astype(np.int16)
    hiss = np.random.default_rng(0).normal(0, 30, 2 * sr).astype(np.int16)  # -60 dBFS-ish
    audio = np.concatenate([hiss[:sr], tone, hiss[sr:]])
    silent = silent_frames(audio, 75)
    m = SILENCE_MARGIN_FRAMES
    assert not silent[25 - m : 50 + m].any()
    assert silent[: 25 - m].all() and silent[50 + m :].all()
    # all digital silence is silence
    assert silent_frames(np.zeros(sr, np.int16), 25).all()
    # the frames of a 0.15 s pause between syllables are not
    gap = np.concatenate([tone[:8000], np.zeros(2400, np.int16), tone[:8000]])
    assert not silent_frames(gap, 28).any()
