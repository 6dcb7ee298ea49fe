"""The SyncNet scorer: embeddings of a cropped face clip and its audio, then the protocol.

Inputs follow the reference exactly: face crops are 224x224 BGR uint8 frames fed as
floats 0..255 (no normalisation); the audio is 16 kHz mono on the int16 scale, turned
into 13 MFCCs at 100 Hz (:mod:`lipdub.eval.mfcc`). With ``n`` usable frames
(``min(frames, samples // 640)``) there are ``n - 5`` windows (the reference's count),
window ``i`` = frames ``i..i+4`` and MFCC columns ``4i..4i+19``. Batches of windows run
through the network (batching does not change results: batch norm is in eval mode).

Example:
    >>> import numpy as np
    >>> from lipdub.models.syncnet_v2 import SyncNetV2
    >>> scorer = SyncNetScorer(net=SyncNetV2(), batch_size=4)
    >>> crops = np.zeros((12, 224, 224, 3), np.uint8)
    >>> score = scorer.score(crops, np.zeros(12 * 640, np.int16))
    >>> score.num_windows
    7
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from lipdub._checks import instance_arg, int_arg, optional_path_arg, str_arg
from lipdub.errors import InputError
from lipdub.eval.base import SpeakingScorer
from lipdub.eval.mfcc import mfcc
from lipdub.eval.protocol import VSHIFT, WINDOW, SyncScore, offset_search
from lipdub.events import EventCallback, Progress, emit
from lipdub.models.syncnet_v2 import SyncNetV2

__all__ = ["CROP_SIZE", "SAMPLES_PER_FRAME", "SyncNetScorer"]

#: Side of the face crops the network takes.
CROP_SIZE = 224
#: 16 kHz samples per 25 fps frame.
SAMPLES_PER_FRAME = 640


class SyncNetScorer(SpeakingScorer):
    """Scores lip-sync with ``syncnet_python``'s SyncNet (LSE-D, LSE-C, offset).

    As a :class:`~lipdub.eval.base.SpeakingScorer` (the active speaker of a dub) a
    face's score over a span is the LSE-C of its crops against the span's audio.

    Args:
        weights: A ``syncnet_v2.model`` file (loaded safely, see
            :mod:`lipdub.eval.weights`); or give ``net``.
        net: An already built :class:`SyncNetV2` (tests, random weights).
        device: ``"cpu"``, ``"cuda"``...; None: CUDA when present, else CPU.
        batch_size: Windows per network call.
        vshift: Offsets searched, in frames each way.
    """

    name = "syncnet_v2"

    def __init__(
        self,
        weights: str | os.PathLike[str] | None = None,
        *,
        net: SyncNetV2 | None = None,
        device: str | None = None,
        batch_size: int = 20,
        vshift: int = VSHIFT,
    ) -> None:
        if (weights is None) == (net is None):
            raise InputError("give exactly one of weights= and net=")
        optional_path_arg(weights, "weights")
        if net is not None:
            instance_arg(net, "net", SyncNetV2, "a SyncNetV2 or None")
        str_arg(device, "device", optional=True, empty=False)
        int_arg(batch_size, "batch_size", low=1)
        int_arg(vshift, "vshift", low=0)
        from lipdub._deps import parse_device

        self.device = torch.device(parse_device(device))
        if net is None:
            from lipdub.eval.weights import load_syncnet_v2

            assert weights is not None
            net = load_syncnet_v2(weights)
        self.net = net.to(self.device).eval()
        self.batch_size = batch_size
        self.vshift = vshift
        self.weights = None if weights is None else os.fspath(weights)

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike[str] = "syncnet_v2",
        *,
        local_files_only: bool = False,
        device: str | None = None,
        batch_size: int = 20,
        vshift: int = VSHIFT,
    ) -> SyncNetScorer:
        """The scorer with catalogue weights (``"syncnet_v2"``) or a local file: what the
        registry's ``"syncnet_v2"`` scorer builds.

        Args:
            name_or_path: A weights name of :mod:`lipdub.hub.catalogue` or the path of
                a ``syncnet_v2.model`` file.
            local_files_only: Use the Hugging Face cache only (never download).
            device, batch_size, vshift: As for the class.

        Raises:
            ModelNotFoundError: not cached while offline (or ``local_files_only``), an
                unknown name, or a missing file.
            CheckpointError: the file does not hold SyncNet weights.
        """
        from lipdub.hub.download import resolve_weights

        path = resolve_weights(name_or_path, local_files_only=local_files_only)
        return cls(path, device=device, batch_size=batch_size, vshift=vshift)

    def settings(self) -> dict[str, Any]:
        """Options that change the numbers."""
        return {"vshift": self.vshift, "weights": self.weights}

    def speaking_score(
        self, crops: npt.NDArray[np.uint8], audio: npt.NDArray[np.int16]
    ) -> float | None:
        """LSE-C of ``crops`` against ``audio`` (None: fewer than 6 frames with audio)."""
        usable = min(len(crops), np.asarray(audio).size // SAMPLES_PER_FRAME)
        if usable <= WINDOW:
            return None
        return float(self.score(crops, audio).lse_c)

    def embed(
        self,
        crops: npt.NDArray[np.uint8] | Sequence[npt.NDArray[np.uint8]],
        audio: npt.ArrayLike,
        *,
        on_event: EventCallback | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Lip and audio embeddings of every window: two ``(windows, 1024)`` CPU tensors.

        Args:
            crops: ``(N, 224, 224, 3)`` BGR uint8 face crops at 25 fps.
            audio: 16 kHz mono samples on the int16 scale.
            on_event: Receives :class:`~lipdub.events.Progress` (stage ``"eval"``).
        """
        frames = np.asarray(crops)
        if frames.ndim != 4 or frames.shape[1:] != (CROP_SIZE, CROP_SIZE, 3):
            raise InputError(
                f"crops must be (N, {CROP_SIZE}, {CROP_SIZE}, 3) BGR frames, got {frames.shape}"
            )
        samples = np.asarray(audio).reshape(-1)
        usable = min(frames.shape[0], samples.size // SAMPLES_PER_FRAME)
        windows = usable - WINDOW
        if windows < 1:
            raise InputError(
                f"too short to score: {usable} frames with audio, need at least {WINDOW + 1}"
            )
        cc = torch.from_numpy(mfcc(samples).astype(np.float32))
        video_out: list[torch.Tensor] = []
        audio_out: list[torch.Tensor] = []
        with torch.inference_mode():
            for start in range(0, windows, self.batch_size):
                stop = min(windows, start + self.batch_size)
                clip = torch.from_numpy(frames[start : stop + WINDOW - 1].astype(np.float32))
                clip = clip.permute(3, 0, 1, 2)  # (3, T, H, W)
                lips = torch.stack([clip[:, i : i + WINDOW] for i in range(stop - start)])
                aud = torch.stack([cc[None, :, 4 * v : 4 * v + 20] for v in range(start, stop)])
                video_out.append(self.net.forward_lip(lips.to(self.device)).float().cpu())
                audio_out.append(self.net.forward_aud(aud.to(self.device)).float().cpu())
                emit(on_event, Progress("eval", done=stop, total=windows, unit="windows"))
        return torch.cat(video_out), torch.cat(audio_out)

    def score(
        self,
        crops: npt.NDArray[np.uint8] | Sequence[npt.NDArray[np.uint8]],
        audio: npt.ArrayLike,
        *,
        on_event: EventCallback | None = None,
    ) -> SyncScore:
        """Offset, LSE-D and LSE-C of a cropped face clip and its audio (see :meth:`embed`)."""
        video, aud = self.embed(crops, audio, on_event=on_event)
        return offset_search(video, aud, self.vshift)
