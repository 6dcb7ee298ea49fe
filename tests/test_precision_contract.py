"""The precision contract of the LipSyncer base: a lip-syncer defined outside lipdub gets
requested/resolved precision, the refusals and a measured, recorded ``"auto"`` by
declaring its precisions and a runner each; Wav2Lip's keys are what they were."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pytest
import torch

from lipdub.errors import InputError
from lipdub.events import EventRecorder, StageFinished
from lipdub.lipsync.auto_precision import Runner
from lipdub.lipsync.base import LipSyncer
from lipdub.testing.conformance import LipSyncerConformance


class Rounding(LipSyncer):
    """A third-party lip-syncer: fp32 returns the crops, bf16/fp16 clear their low bit."""

    name: ClassVar[str] = "rounding"
    precisions: ClassVar[dict[str, tuple[str, ...]]] = {
        "cpu": ("fp32", "bf16"),
        "cuda": ("fp32", "fp16"),
    }
    precision_owner: ClassVar[str] = "Rounding"
    auto_batch, auto_batches = 2, 2

    def __init__(
        self, precision: str | None = None, device: str = "cpu", cache_dir: Path | None = None
    ) -> None:
        self.runs: list[str] = []
        self._init_precision(self.parse_precision(precision), device, cache_dir=cache_dir)

    def settings(self) -> dict[str, Any]:
        return {"precision": self.precision}

    def auto_weights_id(self) -> str:
        return "rounding-v1"

    def precision_runner(self, mode: str, threads: int) -> Runner:
        def run(faces: npt.NDArray[np.uint8], mels: npt.NDArray[np.float32]) -> Any:
            self.runs.append(mode)
            return faces.copy() if mode == "fp32" else faces & np.uint8(0xFE)

        return run

    def sync(
        self, faces: npt.NDArray[np.uint8], mels: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.uint8]:
        out: npt.NDArray[np.uint8] = self.precision_runner(self.precision or "fp32", 1)(faces, mels)
        return out


def timer_of(seconds: dict[str, float]) -> Callable[..., tuple[Any, float]]:
    return lambda mode, call: (call(), seconds[mode])


class TestRoundingConformance(LipSyncerConformance):
    @pytest.fixture(autouse=True)
    def _cache(self, tmp_path: Path) -> None:
        self.cache = tmp_path

    def make_lipsyncer(self) -> Rounding:
        return Rounding("fp32", cache_dir=self.cache)

    def make_lipsyncer_in(self, precision: str | None) -> Rounding:
        return Rounding(precision, cache_dir=self.cache)

    def make_changed_backend(self) -> Rounding:
        return Rounding("bf16", cache_dir=self.cache)


def test_auto_is_measured_recorded_and_read_back(tmp_path: Path) -> None:
    first = Rounding(cache_dir=tmp_path)
    assert first.requested_precision == "auto" and first.auto_choice is None
    rec = EventRecorder()
    mode = first.resolve_precision(rec, threads=2, timer=timer_of({"fp32": 1.0, "bf16": 0.5}))
    choice = first.auto_choice
    assert mode == "bf16" == first.precision == first.settings()["precision"]
    assert choice is not None and not choice.cached
    by = {t.mode: t for t in choice.trials}
    # 2 crops per batch: 2 faces/s for fp32, 4 for bf16, whose low bit costs ~51 dB
    assert by["fp32"].faces_per_s == 2.0 and by["bf16"].faces_per_s == 4.0
    assert by["bf16"].psnr_db is not None and 50.0 < by["bf16"].psnr_db < 52.0
    assert [e.stage for e in rec.of_type(StageFinished)] == ["precision"]
    # warm-up then 2 batches each, in turn
    assert first.runs == ["fp32", "bf16", "fp32", "bf16", "fp32", "bf16"]
    again = Rounding(cache_dir=tmp_path)
    assert again.precision == "bf16" and again.runs == []  # read, not measured
    assert again.auto_choice is not None and again.auto_choice.cached
    assert again.auto_key(2) == first.auto_key(2) != first.auto_key(1)
    # a slower reduced mode loses to the reference
    slow = Rounding(cache_dir=tmp_path / "other")
    slow.resolve_precision(threads=2, timer=timer_of({"fp32": 1.0, "bf16": 2.0}))
    assert slow.precision == "fp32"


def test_the_refusals_name_the_model_the_precision_and_the_device() -> None:
    with pytest.raises(InputError, match="unknown precision 'int8' for Rounding") as e:
        Rounding("int8")
    assert e.value.hint == "use one of auto, fp32, bf16, fp16"
    with pytest.raises(InputError, match="precision 'fp16' runs Rounding on CUDA only") as e:
        Rounding("fp16")
    assert e.value.hint == "on the CPU use one of auto, fp32, bf16; or run on CUDA"
    with pytest.raises(InputError, match="precision 'bf16' runs Rounding on the CPU only"):
        Rounding.check_precision("bf16", "cuda:1")
    # a device type not declared runs the CPU's; "auto" there is the reference, unmeasured
    meta = Rounding(device="meta")
    assert meta.precision == "fp32" and meta.auto_choice is None and meta.runs == []
    assert Rounding("bf16", device="meta").precision == "bf16"


def test_a_syncer_without_precisions_has_none() -> None:
    from lipdub.testing import PassThroughLipSyncer

    syncer = PassThroughLipSyncer()
    syncer.prepare()
    assert syncer.precision is None and syncer.requested_precision is None
    with pytest.raises(InputError, match="no precision option"):
        PassThroughLipSyncer.parse_precision("fp32")


# --------------------------------------------------------------------------- Wav2Lip's keys
#: ``settings_key(component_identity(syncer))`` of a seeded in-memory Wav2Lip, as the
#: lip-sync stage's key takes it, measured before the contract moved to the base.
WAV2LIP_IDENTITY_KEYS = {
    "fp32": "65318fd344a8df82f95a",
    "bf16": "8563ba4b3fc27abf5345",
    "int8": "ca9a6053e2e9e5799c08",
}


def test_wav2lip_keys_are_unchanged() -> None:
    from lipdub._hashing import settings_key
    from lipdub.dub.runner import component_identity
    from lipdub.lipsync.wav2lip import Wav2LipSyncer, auto_key
    from lipdub.models.wav2lip import Wav2Lip

    torch.manual_seed(0)
    net = Wav2Lip()
    for mode, want in WAV2LIP_IDENTITY_KEYS.items():
        syncer = Wav2LipSyncer(net, device="cpu", precision=mode)
        assert settings_key(component_identity(syncer)) == want, mode
    # the measurement's key: the method and the module function (`lipdub weights list`)
    syncer = Wav2LipSyncer(net, device="cpu")
    sha = syncer.auto_weights_id()
    assert len(sha) == 64
    assert syncer.auto_key(2) == auto_key(sha, "cpu", 2) != auto_key(sha, "cpu", 1)
