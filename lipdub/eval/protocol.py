"""The SyncNet evaluation protocol on embeddings: offset search, LSE-D, LSE-C.

Given one lip embedding and one audio embedding per 5-frame window (window ``i``
starts at video frame ``i`` and at MFCC column ``4 i``, i.e. the same instant at
25 fps / 100 Hz), the distance of window ``i`` at shift ``j`` (``0..2 vshift``) is
the Euclidean distance between lip embedding ``i`` and audio embedding
``i + j - vshift`` (a zero vector outside the clip, as in the reference), computed
as ``|| v - a + 1e-6 ||`` like ``torch.nn.functional.pairwise_distance``.

Per video: ``mean[j]`` is the mean over windows; the offset is ``vshift - argmin``
(in frames, as the reference reports it: negative when the sound comes later than
the lips), **LSE-D** is
``min(mean)`` and **LSE-C** is ``median(mean) - min(mean)``. The per-window confidence
is ``median(mean) - dist[i, argmin]``, median-filtered over 9 windows.

Example:
    >>> import torch
    >>> v = torch.eye(40, 8)
    >>> a = torch.roll(v, 2, dims=0)
    >>> score = offset_search(v, a, vshift=5)
    >>> score.offset_frames, score.offset_ms
    (-2, -80.0)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.signal import medfilt

from lipdub.errors import InputError

__all__ = ["FPS", "VSHIFT", "WINDOW", "SyncScore", "distance_table", "offset_search"]

#: Frame rate of the protocol.
FPS = 25
#: Frames per visual window.
WINDOW = 5
#: Offsets searched: -VSHIFT..+VSHIFT frames (Wav2Lip's evaluation scripts use 15).
VSHIFT = 15


@dataclass(frozen=True, slots=True)
class SyncScore:
    """The result of the protocol on one clip.

    Attributes:
        offset_frames: The audio/video offset in frames (25 fps), as the reference reports it.
        lse_d: Mean distance at the best offset (lower is better).
        lse_c: Median minus minimum of the mean distances (higher is better).
        mean_distances: The mean distance per shift, ``-vshift..+vshift`` order of index.
        frame_confidence: Median-filtered confidence of every window at the best offset.
        num_windows: Windows scored.
        vshift: The search range in frames.
    """

    offset_frames: int
    lse_d: float
    lse_c: float
    mean_distances: tuple[float, ...]
    frame_confidence: tuple[float, ...]
    num_windows: int
    vshift: int = VSHIFT

    @property
    def offset_ms(self) -> float:
        """The offset in milliseconds (40 ms per frame)."""
        return self.offset_frames * 1000.0 / FPS

    def confidence_per_second(self) -> list[float]:
        """Mean window confidence in each second of the clip (25 windows a second)."""
        conf = self.frame_confidence
        return [
            float(np.mean(conf[s : s + FPS])) for s in range(0, len(conf), FPS) if conf[s : s + FPS]
        ]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the curve per second, not per window)."""
        return {
            "offset_frames": self.offset_frames,
            "offset_ms": self.offset_ms,
            "lse_d": self.lse_d,
            "lse_c": self.lse_c,
            "num_windows": self.num_windows,
            "vshift": self.vshift,
            "mean_distances": list(self.mean_distances),
            "confidence_per_second": self.confidence_per_second(),
        }


def distance_table(video: torch.Tensor, audio: torch.Tensor, vshift: int = VSHIFT) -> torch.Tensor:
    """``(windows, 2 vshift + 1)`` distances of every window at every shift (see module doc)."""
    if video.ndim != 2 or video.shape != audio.shape:
        raise InputError(
            f"embeddings must be two (windows, dim) tensors of one shape, "
            f"got {tuple(video.shape)} and {tuple(audio.shape)}"
        )
    if vshift < 0:
        raise InputError(f"vshift must be >= 0, got {vshift}")
    n = video.shape[0]
    width = 2 * vshift + 1
    padded = torch.nn.functional.pad(audio, (0, 0, vshift, vshift))
    idx = torch.arange(n)[:, None] + torch.arange(width)[None, :]
    diff = video[:, None, :] - padded[idx] + 1e-6
    out: torch.Tensor = torch.linalg.vector_norm(diff, dim=2)
    return out


def offset_search(video: torch.Tensor, audio: torch.Tensor, vshift: int = VSHIFT) -> SyncScore:
    """Offset, LSE-D and LSE-C of one clip from its window embeddings.

    Raises:
        InputError: no windows, or mismatched embeddings.
    """
    if video.shape[0] < 1:
        raise InputError("no 5-frame window to score: the clip is shorter than 6 frames")
    dists = distance_table(video.float(), audio.float(), vshift)
    mean = dists.mean(dim=0)
    minval, minidx = torch.min(mean, 0)
    median = torch.median(mean)
    fconf = (median - dists[:, int(minidx)]).double().numpy()
    with warnings.catch_warnings():  # under 9 windows medfilt zero-pads, as the reference does
        warnings.simplefilter("ignore", UserWarning)
        smooth = medfilt(fconf, kernel_size=9) if fconf.size else fconf
    return SyncScore(
        offset_frames=vshift - int(minidx),
        lse_d=float(minval),
        lse_c=float(median - minval),
        mean_distances=tuple(float(x) for x in mean),
        frame_confidence=tuple(float(x) for x in smooth),
        num_windows=int(video.shape[0]),
        vshift=vshift,
    )
