"""SyncNet v2 of ``syncnet_python`` (Chung & Zisserman, "Out of time", 2016): the network
behind the LSE-D / LSE-C lip-sync metrics, written from its published layer list.

Not Wav2Lip's lip-sync expert (:mod:`lipdub.models.syncnet`): that one was the
discriminator Wav2Lip trained against, so scoring Wav2Lip with it is biased.

Inputs (as the reference feeds them, no normalisation):

- lips: ``(N, 3, 5, 224, 224)`` float, 5 consecutive BGR face crops, values 0..255;
- audio: ``(N, 1, 13, 20)`` float, 13 MFCCs x 20 columns at 100 Hz (0.2 s).

Both towers end in a 1024-dimensional embedding (not normalised); the reference
compares them by Euclidean distance. Parameter names equal those of the published
``syncnet_v2.model``, so it loads with ``strict=True``.

Example:
    >>> import torch
    >>> net = SyncNetV2().eval()
    >>> with torch.inference_mode():
    ...     a = net.forward_aud(torch.zeros(2, 1, 13, 20))
    >>> tuple(a.shape)
    (2, 1024)
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["EMBED_DIM", "SyncNetV2"]

#: Size of both embeddings.
EMBED_DIM = 1024


def _c2(cin: int, cout: int, k: tuple[int, int], pad: tuple[int, int]) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, k, padding=pad), nn.BatchNorm2d(cout), nn.ReLU()]


def _c3(
    cin: int,
    cout: int,
    k: tuple[int, int, int],
    stride: tuple[int, int, int],
    pad: int | tuple[int, int, int],
) -> list[nn.Module]:
    return [nn.Conv3d(cin, cout, k, stride=stride, padding=pad), nn.BatchNorm3d(cout), nn.ReLU()]


def _head(dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, dim))


class SyncNetV2(nn.Module):
    """The two-tower SyncNet of ``syncnet_python`` (audio MFCC tower, 3D-conv lip tower).

    Attribute names (``netcnnaud``, ``netfcaud``, ``netcnnlip``, ``netfclip``) and the
    index of every layer inside them match the published weights.

    Args:
        embed_dim: Size of the embeddings (1024 in the published weights).
    """

    def __init__(self, embed_dim: int = EMBED_DIM) -> None:
        super().__init__()
        self.netcnnaud = nn.Sequential(
            *_c2(1, 64, (3, 3), (1, 1)),
            nn.MaxPool2d(1, 1),
            *_c2(64, 192, (3, 3), (1, 1)),
            nn.MaxPool2d((3, 3), (1, 2)),
            *_c2(192, 384, (3, 3), (1, 1)),
            *_c2(384, 256, (3, 3), (1, 1)),
            *_c2(256, 256, (3, 3), (1, 1)),
            nn.MaxPool2d((3, 3), (2, 2)),
            *_c2(256, 512, (5, 4), (0, 0)),
        )
        self.netfcaud = _head(embed_dim)
        self.netfclip = _head(embed_dim)
        self.netcnnlip = nn.Sequential(
            *_c3(3, 96, (5, 7, 7), (1, 2, 2), 0),
            nn.MaxPool3d((1, 3, 3), (1, 2, 2)),
            *_c3(96, 256, (1, 5, 5), (1, 2, 2), (0, 1, 1)),
            nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)),
            *_c3(256, 256, (1, 3, 3), (1, 1, 1), (0, 1, 1)),
            *_c3(256, 256, (1, 3, 3), (1, 1, 1), (0, 1, 1)),
            *_c3(256, 256, (1, 3, 3), (1, 1, 1), (0, 1, 1)),
            nn.MaxPool3d((1, 3, 3), (1, 2, 2)),
            *_c3(256, 512, (1, 6, 6), (1, 1, 1), 0),
        )

    def forward_aud(self, x: torch.Tensor) -> torch.Tensor:
        """Audio embedding of ``(N, 1, 13, 20)`` MFCC windows -> ``(N, embed_dim)``."""
        mid = self.netcnnaud(x)
        out: torch.Tensor = self.netfcaud(mid.reshape(mid.shape[0], -1))
        return out

    def forward_lip(self, x: torch.Tensor) -> torch.Tensor:
        """Lip embedding of ``(N, 3, 5, 224, 224)`` crop windows -> ``(N, embed_dim)``."""
        mid = self.netcnnlip(x)
        out: torch.Tensor = self.netfclip(mid.reshape(mid.shape[0], -1))
        return out

    def forward(self, lips: torch.Tensor, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both embeddings: ``(lip, audio)``."""
        return self.forward_lip(lips), self.forward_aud(audio)
