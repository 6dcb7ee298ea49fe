"""The S3FD face-detection network (Zhang et al., 2017), as used by the Wav2Lip release.

A VGG-16 trunk with six detection sources (strides 4, 8, 16, 32, 64 and 128 pixels).
Layer names, shapes and order match the published ``s3fd-619a316812.pth`` checkpoint, so
its state dict loads with ``strict=True``. This module is the raw network only: no I/O,
no pre- or post-processing (see :mod:`lipdub.faces.s3fd` for the detector).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["S3FD", "S3FD_MEAN_RGB", "S3FD_STRIDES", "L2Norm"]

#: Per-channel mean (R, G, B) subtracted from the 0..255 input image.
S3FD_MEAN_RGB: tuple[float, float, float] = (104.0, 117.0, 123.0)

#: Stride in input pixels of each of the six detection sources.
S3FD_STRIDES: tuple[int, ...] = (4, 8, 16, 32, 64, 128)

# (name, in_channels, out_channels) of the VGG-16 trunk; a max-pool follows each "*_last".
_VGG: tuple[tuple[tuple[str, int, int], ...], ...] = (
    (("conv1_1", 3, 64), ("conv1_2", 64, 64)),
    (("conv2_1", 64, 128), ("conv2_2", 128, 128)),
    (("conv3_1", 128, 256), ("conv3_2", 256, 256), ("conv3_3", 256, 256)),
    (("conv4_1", 256, 512), ("conv4_2", 512, 512), ("conv4_3", 512, 512)),
    (("conv5_1", 512, 512), ("conv5_2", 512, 512), ("conv5_3", 512, 512)),
)

# Detection sources: (head-name prefix, channels, class outputs).
_SOURCES: tuple[tuple[str, int, int], ...] = (
    ("conv3_3_norm", 256, 4),
    ("conv4_3_norm", 512, 2),
    ("conv5_3_norm", 512, 2),
    ("fc7", 1024, 2),
    ("conv6_2", 512, 2),
    ("conv7_2", 256, 2),
)


class L2Norm(nn.Module):
    """Normalise each position's channel vector to unit L2 length, then scale per channel.

    ``y = x / (sqrt(sum_c x^2) + 1e-10) * weight[c]``.

    Args:
        channels: Number of channels ``C`` of the ``(N, C, H, W)`` input.
        scale: Initial value of every entry of the learned ``(C,)`` ``weight``.
    """

    def __init__(self, channels: int, scale: float) -> None:
        super().__init__()
        self.eps = 1e-10
        self.weight = nn.Parameter(torch.full((channels,), float(scale)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` -> ``(N, C, H, W)``."""
        norm = x.pow(2).sum(dim=1, keepdim=True).sqrt() + self.eps
        return x / norm * self.weight.view(1, -1, 1, 1)


class S3FD(nn.Module):
    """Single Shot Scale-invariant Face Detector network.

    Input: ``(N, 3, H, W)`` float32, RGB channel order, 0..255 minus
    :data:`S3FD_MEAN_RGB`, any ``H``/``W``. Output: 12 tensors
    ``(cls1, reg1, ..., cls6, reg6)``; for source ``i`` (stride ``S3FD_STRIDES[i]``)
    ``cls`` is ``(N, 2, h_i, w_i)`` raw (background, face) logits and ``reg`` is
    ``(N, 4, h_i, w_i)`` SSD box offsets. The first source's four class logits are
    reduced to two by taking the maximum of its three background logits ("max-out").

    Example:
        >>> import torch
        >>> net = S3FD().eval()
        >>> outs = net(torch.zeros(1, 3, 64, 64))
        >>> [tuple(o.shape[1:]) for o in outs[:2]]
        [(2, 16, 16), (4, 16, 16)]
    """

    def __init__(self) -> None:
        super().__init__()
        for stage in _VGG:
            for name, cin, cout in stage:
                self.add_module(name, nn.Conv2d(cin, cout, kernel_size=3, stride=1, padding=1))
        self.fc6 = nn.Conv2d(512, 1024, kernel_size=3, stride=1, padding=3)
        self.fc7 = nn.Conv2d(1024, 1024, kernel_size=1)
        self.conv6_1 = nn.Conv2d(1024, 256, kernel_size=1)
        self.conv6_2 = nn.Conv2d(256, 512, kernel_size=3, stride=2, padding=1)
        self.conv7_1 = nn.Conv2d(512, 128, kernel_size=1)
        self.conv7_2 = nn.Conv2d(128, 256, kernel_size=3, stride=2, padding=1)
        self.conv3_3_norm = L2Norm(256, 10.0)
        self.conv4_3_norm = L2Norm(512, 8.0)
        self.conv5_3_norm = L2Norm(512, 5.0)
        for prefix, channels, n_cls in _SOURCES:
            self.add_module(f"{prefix}_mbox_conf", nn.Conv2d(channels, n_cls, 3, padding=1))
            self.add_module(f"{prefix}_mbox_loc", nn.Conv2d(channels, 4, 3, padding=1))

    def _conv(self, name: str, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.get_submodule(name)(x))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Run the network on ``(N, 3, H, W)`` mean-subtracted RGB; see the class doc."""
        sources: list[torch.Tensor] = []
        for i, stage in enumerate(_VGG):
            for name, _, _ in stage:
                x = self._conv(name, x)
            if i >= 2:  # conv3_3, conv4_3, conv5_3 feed heads before their pooling
                sources.append(x)
            x = F.max_pool2d(x, kernel_size=2, stride=2)
        x = self._conv("fc6", x)
        x = self._conv("fc7", x)
        sources.append(x)
        x = self._conv("conv6_1", x)
        x = self._conv("conv6_2", x)
        sources.append(x)
        x = self._conv("conv7_1", x)
        x = self._conv("conv7_2", x)
        sources.append(x)

        sources[0] = self.conv3_3_norm(sources[0])
        sources[1] = self.conv4_3_norm(sources[1])
        sources[2] = self.conv5_3_norm(sources[2])

        outputs: list[torch.Tensor] = []
        for (prefix, _, _), src in zip(_SOURCES, sources, strict=True):
            cls = self.get_submodule(f"{prefix}_mbox_conf")(src)
            reg = self.get_submodule(f"{prefix}_mbox_loc")(src)
            if cls.shape[1] == 4:
                background = torch.amax(cls[:, :3], dim=1, keepdim=True)
                cls = torch.cat([background, cls[:, 3:4]], dim=1)
            outputs.extend((cls, reg))
        return tuple(outputs)
