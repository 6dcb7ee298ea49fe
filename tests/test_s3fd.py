"""S3FD: checkpoint compatibility, numeric parity with the original, decoding and NMS."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from lipdub.errors import CheckpointError, InputError
from lipdub.faces.s3fd import S3FDFaceDetector, decode_s3fd, nms, s3fd_postprocess
from lipdub.hub import sha256_file
from lipdub.models.s3fd import S3FD, S3FD_STRIDES
from lipdub.testing.checkpoints import (
    prefilled_hub_cache,
    spec_for_file,
    write_random_checkpoint,
)
from lipdub.testing.conformance import SettingsConformance

DATA = Path(__file__).parent / "data"


def _manifest() -> list[tuple[str, tuple[int, ...], str]]:
    entries = json.loads((DATA / "s3fd_manifest.json").read_text())["entries"]
    return [(k, tuple(s), d) for k, s, d in entries]


def _parity_weights() -> dict[str, torch.Tensor]:
    """The parity kit's synthetic weights: entry i drawn from a generator seeded 1000 + i."""
    out = {}
    for i, (key, shape, _) in enumerate(_manifest()):
        g = torch.Generator().manual_seed(1000 + i)
        if len(shape) > 1:
            t = torch.randn(shape, generator=g) / math.sqrt(math.prod(shape[1:]))
        elif key.endswith("weight"):
            t = 1.0 + 0.1 * torch.randn(shape, generator=g)
        else:
            t = 0.1 * torch.randn(shape, generator=g)
        out[key] = t.contiguous()
    return out


@pytest.fixture(scope="module")
def parity_model() -> S3FD:
    model = S3FD().eval()
    model.load_state_dict(_parity_weights(), strict=True)
    return model


def test_state_dict_matches_published_manifest() -> None:
    state = S3FD().state_dict()
    assert [(k, tuple(v.shape)) for k, v in state.items()] == [(k, s) for k, s, _ in _manifest()]
    assert sum(v.numel() for v in state.values()) == 22_459_110


def test_outputs_match_original_network(parity_model: S3FD) -> None:
    ref = np.load(DATA / "s3fd_reference.npz")
    with torch.no_grad():
        outs = parity_model(torch.from_numpy(ref["input"]))
    names = [f"{kind}{i}" for i in range(1, 7) for kind in ("cls", "reg")]
    assert len(outs) == 12
    for name, out in zip(names, outs, strict=True):
        np.testing.assert_allclose(out.numpy(), ref[name], atol=1e-4, rtol=0, err_msg=name)


def test_random_checkpoint_loads_strictly_in_both_layouts(tmp_path: Path) -> None:
    bare = write_random_checkpoint(tmp_path / "s3fd.pth", S3FD(), format="bare", seed=3)
    wrapped = write_random_checkpoint(tmp_path / "wrapped.pth", S3FD(), format="original", seed=3)
    a = S3FDFaceDetector.from_pretrained(bare, device="cpu", max_side=64)
    b = S3FDFaceDetector.from_pretrained(wrapped, device="cpu")
    for key, value in a.model.state_dict().items():
        assert torch.equal(value, b.model.state_dict()[key]), key
    assert a.max_side == 64 and b.max_side == 640
    assert a.device.type == "cpu"
    assert a.weights == str(bare) and a.settings()["max_side"] == 64
    assert a.settings()["weights_sha256"] == sha256_file(bare)


def test_wrong_checkpoint_is_rejected(tmp_path: Path) -> None:
    other = write_random_checkpoint(
        tmp_path / "other.pth", [["conv.weight", [4, 3, 3, 3], "float32"]]
    )
    with pytest.raises(CheckpointError, match="S3FD"):
        S3FDFaceDetector.from_pretrained(other)
    with pytest.raises(InputError):
        S3FDFaceDetector.from_pretrained(other, revision="main")


def test_from_pretrained_through_hub_cache(tmp_path: Path) -> None:
    from lipdub.hub import register_weights

    ckpt = write_random_checkpoint(tmp_path / "s3fd-test.pth", S3FD(), seed=1)
    spec = spec_for_file("s3fd-random-test", ckpt)
    register_weights(spec, replace=True)
    prefilled_hub_cache(tmp_path / "cache", spec, ckpt)
    det = S3FDFaceDetector.from_pretrained(
        "s3fd-random-test", cache_dir=tmp_path / "cache", local_files_only=True, device="cpu"
    )
    assert isinstance(det.model, S3FD)


# ---------------------------------------------------------------- settings


class TestS3FDSettings(SettingsConformance):
    """The settings checks of the detector suite (random weights find no faces, so the
    detection checks of :class:`FaceDetectorConformance` do not apply)."""

    @pytest.fixture(autouse=True)
    def _checkpoint(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        path = tmp_path_factory.getbasetemp() / "settings_s3fd.pth"
        if not path.exists():
            write_random_checkpoint(path, S3FD(), seed=5)
        self.path = path

    def make_backend(self) -> S3FDFaceDetector:
        return S3FDFaceDetector.from_pretrained(self.path, device="cpu")

    def make_changed_backend(self) -> S3FDFaceDetector:
        return S3FDFaceDetector.from_pretrained(self.path, device="cpu", score_threshold=0.7)

    def make_same_output_backend(self) -> S3FDFaceDetector:
        return S3FDFaceDetector.from_pretrained(
            self.path, device="meta", token="hf_not_a_real_token", batch_size=2
        )


def test_settings_name_the_weights_not_the_cache_token_or_device(tmp_path: Path) -> None:
    from lipdub.hub import register_weights

    ckpt = write_random_checkpoint(tmp_path / "s3fd-settings.pth", S3FD(), seed=2)
    spec = spec_for_file("s3fd-settings-test", ckpt)
    register_weights(spec, replace=True)
    prefilled_hub_cache(tmp_path / "cache", spec, ckpt)
    det = S3FDFaceDetector.from_pretrained(
        "s3fd-settings-test", cache_dir=tmp_path / "cache", local_files_only=True, device="cpu"
    )
    local = S3FDFaceDetector.from_pretrained(ckpt, device="meta", token="hf_rotated")
    assert det.settings() == local.settings()
    assert det.settings()["weights_sha256"] == sha256_file(ckpt)
    assert det.to("meta").settings() == local.settings()
    # a network built in memory is named by its weights
    net = S3FD()
    built = S3FDFaceDetector(net).settings()
    assert S3FDFaceDetector(net, batch_size=1).settings() == built
    with torch.no_grad():
        next(net.parameters()).add_(1.0)
    assert S3FDFaceDetector(net).settings() != built


# ---------------------------------------------------------------- decoding and NMS


def _empty_maps(size: int = 256) -> tuple[list[np.ndarray], list[np.ndarray]]:
    cls, reg = [], []
    for s in S3FD_STRIDES:
        n = max(1, size // s)
        c = np.zeros((2, n, n), np.float32)
        c[0] = 1.0  # all background
        cls.append(c)
        reg.append(np.zeros((4, n, n), np.float32))
    return cls, reg


def test_decode_places_anchor_boxes_exactly() -> None:
    cls, reg = _empty_maps()
    cls[2][:, 3, 5] = (0.1, 0.9)  # stride 16, row 3, column 5
    cls[0][:, 0, 1] = (0.96, 0.04)  # below the 0.05 candidate threshold
    cls[1][:, 2, 2] = (0.3, 0.7)  # stride 8, zero offsets
    reg[2][:, 3, 5] = (0.5, -0.25, math.log(2) / 0.2, 0.0)
    dets = decode_s3fd(cls, reg)
    assert dets.shape == (2, 5)
    # gathered source by source: stride 8 first
    np.testing.assert_allclose(dets[0], [4 + 16 - 16, 4 + 16 - 16, 4 + 16 + 16, 4 + 16 + 16, 0.7])
    cx, cy = 8 + 5 * 16 + 0.5 * 0.1 * 64, 8 + 3 * 16 - 0.25 * 0.1 * 64
    w, h = 128.0, 64.0
    np.testing.assert_allclose(
        dets[1], [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, 0.9], rtol=1e-6, atol=1e-4
    )


def test_decode_row_major_order_within_a_source() -> None:
    cls, reg = _empty_maps()
    for y, x, p in [(4, 1, 0.6), (1, 7, 0.8), (1, 2, 0.7)]:
        cls[0][:, y, x] = (1 - p, p)
    dets = decode_s3fd(cls, reg)
    np.testing.assert_allclose(dets[:, 4], [0.7, 0.8, 0.6], rtol=1e-6)


def test_nms_keeps_best_and_uses_plus_one_areas() -> None:
    dets = np.array(
        [
            [0, 0, 9, 9, 0.9],  # area 100 with the +1 convention
            [0, 0, 9, 4, 0.8],  # overlap 50 / union 100 = 0.5 -> dropped
            [100, 100, 120, 120, 0.7],  # far away -> kept
            [0, 0, 9, 2, 0.95],  # IoU with the first exactly 0.3 -> both stay
        ],
        np.float32,
    )
    keep = nms(dets, 0.3)
    assert keep.tolist() == [3, 0, 2]


def test_nms_ties_come_in_reverse_gathering_order() -> None:
    dets = np.array([[0, 0, 10, 10, 0.5], [50, 50, 60, 60, 0.5], [0, 0, 10, 10, 0.5]], np.float32)
    assert nms(dets, 0.3).tolist() == [2, 1]


def test_postprocess_round_trip_from_logits() -> None:
    cls, reg = _empty_maps()
    logits = []
    for c in cls:
        z = np.zeros_like(c)
        z[0] = 5.0  # strongly background
        logits.append(z)
    logits[3][:, 2, 3] = (0.0, 4.0)  # stride 32: face with p = sigmoid(4) = 0.982
    logits[2][:, 5, 6] = (0.0, 0.5)  # candidate (0.62 > 0.05) but overlapping heavily below
    logits[1][:, 0, 0] = (0.0, -1.0)  # 0.27: above 0.05, dropped by the final 0.5 threshold
    outputs = [a for pair in zip(logits, reg, strict=True) for a in pair]
    dets = s3fd_postprocess(outputs)
    assert dets.shape == (2, 5)
    np.testing.assert_allclose(
        dets[0],
        [16 + 96 - 64, 16 + 64 - 64, 16 + 96 + 64, 16 + 64 + 64, 1 / (1 + math.exp(-4))],
        rtol=1e-5,
    )
    assert dets[1, 4] == pytest.approx(1 / (1 + math.exp(-0.5)), rel=1e-5)
    assert s3fd_postprocess(outputs, score_threshold=0.9).shape == (1, 5)


# ---------------------------------------------------------------- the detector


@pytest.fixture(scope="module")
def random_detector() -> S3FDFaceDetector:
    torch.manual_seed(0)
    return S3FDFaceDetector(S3FD(), device="cpu", score_threshold=0.0, max_side=64)


def test_downscaled_boxes_map_back_exactly(random_detector: S3FDFaceDetector) -> None:
    import cv2

    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)
    small = cv2.resize(frame, (64, 48), interpolation=cv2.INTER_AREA)
    expected = random_detector.forward([small])[0]
    got = random_detector.detect([frame])[0]
    assert len(got) == len(expected) > 0
    np.testing.assert_allclose(
        [b.as_tuple() for b in got], expected[:, :4] * 2.0, rtol=1e-5, atol=1e-3
    )
    assert [b.score for b in got] == pytest.approx(expected[:, 4].tolist())


def test_batched_detection_equals_single(random_detector: S3FDFaceDetector) -> None:
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(3)]
    frames.append(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8))  # other size
    batched = random_detector.detect(frames)
    for frame, result in zip(frames, batched, strict=True):
        single = random_detector.detect([frame])[0]
        assert len(single) == len(result)
        np.testing.assert_allclose(
            [b.as_tuple() for b in single], [b.as_tuple() for b in result], atol=1e-3
        )


def test_preprocessing_flips_bgr_and_subtracts_mean() -> None:
    """A network that sees exactly the mean colour gets an all-zero input."""
    model = S3FD().eval()
    seen: list[torch.Tensor] = []
    model.conv1_1.register_forward_hook(lambda m, i, o: seen.append(i[0]))
    det = S3FDFaceDetector(model, device="cpu", max_side=None)
    frame = np.zeros((32, 32, 3), np.uint8)
    frame[...] = (123, 117, 104)  # BGR of the RGB mean (104, 117, 123)
    det.detect([frame])
    assert seen[0].shape == (1, 3, 32, 32)
    assert float(seen[0].abs().max()) == 0.0


def test_tiny_frames_are_padded_not_crashed(random_detector: S3FDFaceDetector) -> None:
    results = random_detector.detect(
        [np.zeros((8, 20, 3), np.uint8), np.zeros((31, 31, 3), np.uint8)]
    )
    assert len(results) == 2


def test_rejects_bad_frames(random_detector: S3FDFaceDetector) -> None:
    with pytest.raises(InputError, match="uint8"):
        random_detector.detect([np.zeros((10, 10), np.uint8)])
