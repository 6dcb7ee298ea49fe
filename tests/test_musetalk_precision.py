"""MuseTalk under the LipSyncer precision contract (the conformance kit's precision part:
its ``sync`` is ~15 s a face on 2 cores, too slow for the whole kit), and its lip-sync
identity and ``"auto"`` key as they were before the contract moved to the base."""

from __future__ import annotations

from pathlib import Path

import pytest

from lipdub.errors import InputError
from lipdub.lipsync.musetalk import MuseTalkSyncer
from lipdub.testing.conformance import LipSyncerPrecisionConformance

#: ``settings_key(component_identity(syncer))`` on the kit's rule-built weights, as the
#: lip-sync stage's key takes it, measured before the contract moved to the base.
IDENTITY_KEYS = {"fp32": "1b698b8b828f5b3a957d", "bf16": "d58c7dadf386d52b1bc7"}


@pytest.fixture(scope="module")
def loaded(musetalk_weights: Path) -> MuseTalkSyncer:
    return MuseTalkSyncer.from_pretrained(
        weights_dir=musetalk_weights, precision="fp32", device="cpu"
    )


class TestMuseTalkPrecision(LipSyncerPrecisionConformance):
    @pytest.fixture(autouse=True)
    def _net(self, loaded: MuseTalkSyncer, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.loaded = loaded
        self.cache = tmp_path_factory.getbasetemp() / "musetalk-auto"

    def make_lipsyncer(self) -> MuseTalkSyncer:
        return self.make_lipsyncer_in("fp32")

    def make_lipsyncer_in(self, precision: str | None) -> MuseTalkSyncer:
        return MuseTalkSyncer(
            self.loaded.net,
            device="cpu",
            precision=precision,
            weights=self.loaded._weights,
            cache_dir=self.cache,
        )


def test_identity_and_auto_key_are_unchanged(loaded: MuseTalkSyncer) -> None:
    from lipdub._hashing import settings_key
    from lipdub.dub.runner import component_identity
    from lipdub.lipsync.auto_precision import choice_key, machine_identity
    from lipdub.lipsync.precision import cpu_supports

    for mode, want in IDENTITY_KEYS.items():
        syncer = MuseTalkSyncer(loaded.net, precision=mode, device="cpu", weights=loaded._weights)
        assert settings_key(component_identity(syncer)) == want, mode
    # the recorded measurements stay valid: the key is built as it was
    modes = ["fp32", "bf16"] if cpu_supports("bf16") else ["fp32"]
    want_key = choice_key(
        machine_identity("cpu", 2), settings_key(loaded._weights), modes, 40.0, "musetalk-auto-v1"
    )
    assert loaded.auto_key(2) == want_key
    with pytest.raises(InputError, match="precision 'fp16' runs MuseTalk on CUDA only"):
        MuseTalkSyncer(loaded.net, precision="fp16", device="cpu")
    with pytest.raises(InputError, match="unknown precision 'int8' for MuseTalk"):
        MuseTalkSyncer(loaded.net, precision="int8", device="cpu")
