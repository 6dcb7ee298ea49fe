"""lipdub.eval: safe loading of syncnet_v2 pickles, the offset search, parity."""

from __future__ import annotations

import importlib.util
import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from lipdub.errors import CheckpointError
from lipdub.eval.protocol import offset_search
from lipdub.eval.scorer import SyncNetScorer
from lipdub.eval.weights import load_syncnet_v2
from lipdub.models.syncnet_v2 import SyncNetV2


def _random_net(seed: int = 0) -> SyncNetV2:
    torch.manual_seed(seed)
    net = SyncNetV2()
    for m in net.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 2.0)
    return net.eval()


def _save_published_format(net: SyncNetV2, path: Path) -> None:
    """``torch.save(model)`` of a class named ``SyncNetModel.S``, like the published file."""
    mod = types.ModuleType("SyncNetModel")

    class S(SyncNetV2):
        pass

    S.__module__, S.__qualname__ = "SyncNetModel", "S"
    mod.S = S  # type: ignore[attr-defined]
    model = S()
    model.load_state_dict(net.state_dict())
    sys.modules["SyncNetModel"] = mod
    try:
        torch.save(model, path)
    finally:
        del sys.modules["SyncNetModel"]


def test_whole_module_pickle_loads_without_its_classes(tmp_path: Path) -> None:
    net = _random_net()
    path = tmp_path / "syncnet_v2.model"
    _save_published_format(net, path)
    assert b"SyncNetModel" in path.read_bytes() or path.stat().st_size > 0
    loaded = load_syncnet_v2(path)
    ref = net.state_dict()
    got = loaded.state_dict()
    assert list(got) == list(ref)
    assert all(torch.equal(got[k], ref[k]) for k in ref)


def test_state_dict_pickle_loads(tmp_path: Path) -> None:
    net = _random_net(1)
    path = tmp_path / "sd.model"
    torch.save(net.state_dict(), path)
    loaded = load_syncnet_v2(path)
    assert torch.equal(loaded.netfclip[3].weight, net.netfclip[3].weight)


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (Path.write_text, (str(self.marker), "pwned"))  # type: ignore[return-value]


def test_pickle_that_runs_code_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.model"
    torch.save({"netfclip.0.weight": _Evil(marker)}, path)
    with pytest.raises(CheckpointError, match="refused"):
        load_syncnet_v2(path)
    assert not marker.exists()

    class Run:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, ("true",))

    torch.save(Run(), path)
    with pytest.raises(CheckpointError, match="system"):
        load_syncnet_v2(path)


def test_wrong_network_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.model"
    torch.save(torch.nn.Linear(2, 2).state_dict(), path)
    with pytest.raises(CheckpointError, match="not the syncnet_python SyncNet"):
        load_syncnet_v2(path)


@pytest.mark.parametrize("shift", [-7, -1, 0, 3, 15])
def test_offset_search_finds_a_known_shift(shift: int) -> None:
    gen = torch.Generator().manual_seed(5)
    base = torch.randn(120, 16, generator=gen)
    video = base[20:100]
    audio = base[20 - shift : 100 - shift]  # audio[i] = video[i - shift]
    score = offset_search(video, audio, vshift=15)
    assert score.offset_frames == -shift
    assert score.offset_ms == -shift * 40.0
    assert score.lse_d == min(score.mean_distances)
    assert score.lse_d < 0.5 * float(np.median(score.mean_distances))
    assert score.lse_c > 1.0


def _reference_formulas(
    video: np.ndarray, audio: np.ndarray, vshift: int
) -> tuple[int, float, float]:
    """The protocol written out with loops (float64)."""
    n = len(video)
    means = []
    for j in range(2 * vshift + 1):
        total = 0.0
        for i in range(n):
            k = i + j - vshift
            a = audio[k] if 0 <= k < n else np.zeros_like(audio[0])
            total += float(np.sqrt(np.sum((video[i] - a + 1e-6) ** 2)))
        means.append(total / n)
    best = int(np.argmin(means))
    return vshift - best, means[best], float(np.median(means)) - means[best]


def test_offset_search_equals_the_formulas_written_out() -> None:
    rng = np.random.default_rng(3)
    video = rng.standard_normal((30, 8)).astype(np.float32)
    audio = rng.standard_normal((30, 8)).astype(np.float32)
    score = offset_search(torch.from_numpy(video), torch.from_numpy(audio), vshift=6)
    offset, d, c = _reference_formulas(video, audio, 6)
    assert score.offset_frames == offset
    assert score.lse_d == pytest.approx(d, abs=1e-4)
    assert score.lse_c == pytest.approx(c, abs=1e-4)
    assert len(score.frame_confidence) == 30


def _clip(frames: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    crops = rng.integers(0, 256, (frames, 224, 224, 3), dtype=np.uint8)
    audio = (rng.standard_normal(frames * 640) * 3000).astype(np.int16)
    return crops, audio


def test_batching_does_not_change_the_numbers() -> None:
    net = _random_net(2)
    crops, audio = _clip(14)
    a = SyncNetScorer(net=net, batch_size=3, vshift=4).score(crops, audio)
    b = SyncNetScorer(net=net, batch_size=20, vshift=4).score(crops, audio)
    assert a.num_windows == 9
    assert a.offset_frames == b.offset_frames
    assert a.lse_d == pytest.approx(b.lse_d, abs=1e-4)
    assert a.lse_c == pytest.approx(b.lse_c, abs=1e-4)


def _load_oracle() -> types.ModuleType:
    pytest.importorskip("python_speech_features")
    spec = importlib.util.find_spec("syncnet_python")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("syncnet-python (the reference) is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "SyncNetInstance.py"
    mspec = importlib.util.spec_from_file_location("_syncnet_oracle", path)
    assert mspec is not None and mspec.loader is not None
    module = importlib.util.module_from_spec(mspec)
    mspec.loader.exec_module(module)
    return module


def test_parity_with_the_reference_implementation(tmp_path: Path) -> None:
    """Same crops, audio and random weights as syncnet-python's SyncNetInstance.evaluate."""
    oracle = _load_oracle()
    import cv2
    from scipy.io import wavfile

    net = _random_net(4)
    crops, audio = _clip(40, seed=1)
    for i, crop in enumerate(crops):  # lossless frames under the .jpg names it globs
        ok, png = cv2.imencode(".png", crop)
        assert ok
        (tmp_path / f"{i:06d}.jpg").write_bytes(png.tobytes())
    wavfile.write(tmp_path / "audio.wav", 16000, audio)
    opt = types.SimpleNamespace(tmp_dir=str(tmp_path), batch_size=20, vshift=15)
    ref_offset, ref_conf, ref_dist = oracle.SyncNetInstance(net, device="cpu").evaluate(opt)
    score = SyncNetScorer(net=net, device="cpu", vshift=15).score(crops, audio)
    assert score.offset_frames == ref_offset
    assert score.lse_d == pytest.approx(ref_dist, abs=1e-4)
    assert score.lse_c == pytest.approx(ref_conf, abs=1e-4)
