"""A lip-syncer plugin that lives outside lipdub, as a third party's would.

It paints the lower half of every face crop one flat grey ``level``, read from its
weights file (a safetensors file holding one tensor, ``level``) unless ``level=`` is
given. Its weights come through lipdub's catalogue (``register_weights``) or a local
file (``--checkpoint``). The ``lipdub_mouthfill-1.0.dist-info`` folder beside this file
registers it in the ``lipdub.lipsyncers`` entry-point group: put this folder on the
Python path and ``--lipsyncer mouthfill`` works in ``lipsync``, ``dub``, ``batch`` and
``review`` with no change to lipdub.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from lipdub.hub import WeightsSpec, load_state_dict, register_weights, resolve_weights
from lipdub.lipsync.base import LipSyncer

#: The catalogue entry of the plugin's weights (nothing is published: tests pass a file).
WEIGHTS = WeightsSpec(
    "mouthfill",
    "lipdub-tests/mouthfill",
    "level.safetensors",
    None,
    None,
    None,
    description="a flat mouth level, for lipdub's plugin tests",
    slot="lipsyncer",
    local_option="name_or_path",
)
register_weights(WEIGHTS, replace=True)


class MouthFillSyncer(LipSyncer):
    """Paints the lower half of each crop ``level`` (0..255)."""

    name: ClassVar[str] = "mouthfill"

    def __init__(self, level: int, *, weights: str = "") -> None:
        self.level = int(level)
        self.weights = weights
        self.frames_synced = 0

    @classmethod
    def from_pretrained(
        cls, name_or_path: str | os.PathLike[str] = "mouthfill", *, level: int | None = None
    ) -> MouthFillSyncer:
        """The syncer with the weights ``name_or_path`` names (catalogue or file)."""
        path = resolve_weights(name_or_path, verify=False)
        state = load_state_dict(path, expected_keys={"level"}, what="MouthFill")
        stored = int(state["level"].item())
        return cls(stored if level is None else level, weights=os.fspath(path))

    def settings(self) -> dict[str, Any]:
        """The level, which is all that changes the output."""
        return {"level": self.level}

    def sync(
        self, faces: npt.NDArray[np.uint8], mels: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.uint8]:
        """The crops with their lower half painted ``level``."""
        out = faces.copy()
        out[:, out.shape[1] // 2 :] = self.level
        self.frames_synced += len(faces)
        return out


def write_weights(path: str | os.PathLike[str], level: int) -> str:
    """Write a weights file holding ``level``; returns its path."""
    import torch
    from safetensors.torch import save_file

    save_file({"level": torch.tensor(float(level))}, os.fspath(path))
    return os.fspath(path)
