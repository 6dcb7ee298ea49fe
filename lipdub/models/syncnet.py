"""Wav2Lip's lip-sync expert (``SyncNet_color``), written from its published layer tables.

The expert embeds 5 consecutive lower-face crops and the matching 0.2 s mel window
into one 512-dimensional unit vector each; the cosine of the two says how well the
mouth movement fits the sound. Wav2Lip trained its generator against it, and it can
score a lip-synced video (LSE-style sync metrics).

Parameter names and shapes equal those of the published ``lipsync_expert.pth`` (after
removing ``module.``), so it loads with ``strict=True``.

Example:
    >>> import torch
    >>> net = SyncNet().eval()
    >>> with torch.inference_mode():
    ...     a, v = net(torch.zeros(2, 1, 80, 16), torch.zeros(2, 15, 48, 96))
    >>> tuple(a.shape), tuple(v.shape)
    ((2, 512), (2, 512))
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional

from lipdub.models.wav2lip import ConvBlock

__all__ = ["SyncNet", "sync_similarity", "syncnet_manifest"]

#: Consecutive frames the expert looks at.
SYNCNET_FRAMES = 5


def _res(ch: int, count: int) -> list[nn.Module]:
    return [ConvBlock(ch, ch, 3, 1, 1, residual=True) for _ in range(count)]


class SyncNet(nn.Module):
    """The lip-sync expert: ``(audio, faces) -> (audio_embedding, face_embedding)``.

    Inputs: ``audio`` ``(B, 1, 80, 16)`` mel windows; ``faces`` ``(B, 15, 48, 96)``:
    the lower halves (48 of 96 rows) of 5 consecutive 96x96 BGR crops in [0, 1],
    stacked on the channel axis (frame 0's 3 channels first). Outputs: two
    ``(B, 512)`` L2-normalised embeddings.

    Example:
        >>> sum(p.numel() for p in SyncNet().parameters())
        16435072
    """

    def __init__(self) -> None:
        super().__init__()
        self.face_encoder = nn.Sequential(
            ConvBlock(15, 32, 7, 1, 3),  # 48x96
            ConvBlock(32, 64, 5, (1, 2), 1),  # 46x47
            *_res(64, 2),
            ConvBlock(64, 128, 3, 2, 1),  # 23x24
            *_res(128, 3),
            ConvBlock(128, 256, 3, 2, 1),  # 12x12
            *_res(256, 2),
            ConvBlock(256, 512, 3, 2, 1),  # 6x6
            *_res(512, 2),
            ConvBlock(512, 512, 3, 2, 1),  # 3x3
            ConvBlock(512, 512, 3, 1, 0),  # 1x1
            ConvBlock(512, 512, 1, 1, 0),
        )
        self.audio_encoder = nn.Sequential(
            ConvBlock(1, 32, 3, 1, 1),
            *_res(32, 2),
            ConvBlock(32, 64, 3, (3, 1), 1),
            *_res(64, 2),
            ConvBlock(64, 128, 3, 3, 1),
            *_res(128, 2),
            ConvBlock(128, 256, 3, (3, 2), 1),
            *_res(256, 2),
            ConvBlock(256, 512, 3, 1, 0),
            ConvBlock(512, 512, 1, 1, 0),
        )

    def forward(
        self, audio_sequences: torch.Tensor, face_sequences: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Unit-length ``(B, 512)`` audio and face embeddings."""
        audio = self.audio_encoder(audio_sequences).flatten(1)
        face = self.face_encoder(face_sequences).flatten(1)
        return functional.normalize(audio, p=2, dim=1), functional.normalize(face, p=2, dim=1)


def sync_similarity(audio_embedding: torch.Tensor, face_embedding: torch.Tensor) -> torch.Tensor:
    """Cosine similarity per sample, ``(B,)`` in [-1, 1] (higher = better in sync)."""
    return functional.cosine_similarity(audio_embedding, face_embedding, dim=1)


def syncnet_manifest() -> list[tuple[str, tuple[int, ...], str]]:
    """``[(key, shape, dtype), ...]`` of :class:`SyncNet`'s state dict (no allocation).

    Example:
        >>> len(syncnet_manifest())
        217
    """
    with torch.device("meta"):
        net = SyncNet()
    return [
        (k, tuple(v.shape), str(v.dtype).removeprefix("torch."))
        for k, v in net.state_dict().items()
    ]
