"""CAM++, 3D-Speaker's speaker-verification network, written from its published structure.

The network turns ``(batch, frames, 80)`` mean-normalised log-mel filterbanks (Kaldi's,
10 ms frames) into one 192-d speaker embedding per item:

1. A front of 2-D convolutions over frequency and time (a 3x3 stem, two stages of two
   residual blocks, each stage halving the frequency axis, and a last strided 3x3), whose
   32 channels x 10 remaining bands are flattened into 320 features per frame.
2. A strided TDNN (kernel 5) down to 128 channels at half the frame rate.
3. Three densely connected TDNN blocks (12, 24 and 16 layers; dilation 1, 2, 2), each
   layer adding 32 channels through a 1x1 bottleneck of 128 and a kernel-3 convolution
   scaled by a sigmoid mask computed from the layer input's mean over the whole clip plus
   its mean over the current 100-frame segment; a 1x1 transition halves the channels
   after each block (128 -> 256 -> 512 -> 1024 -> 512).
4. Mean and unbiased standard deviation over time, a 1x1 projection to 192 and a batch
   norm without scale or shift.

Parameter names and shapes equal the published state dicts (``campplus_cn_en_common.pt``:
937 entries), so they load with ``strict=True``. Batch norms are folded in eval mode, so
batching equal-length clips gives the same numbers as one at a time.

Example:
    >>> import torch
    >>> net = CamPlusPlus().eval()
    >>> with torch.inference_mode():
    ...     out = net(torch.zeros(2, 100, 80))
    >>> tuple(out.shape), len(net.state_dict())
    ((2, 192), 937)
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional

__all__ = ["CamPlusPlus"]

#: Filterbank bands the network reads.
FEATURES = 80
#: Length of the embedding.
DIM = 192
_GROWTH, _BOTTLENECK, _SEGMENT = 32, 128, 100
_BLOCKS = ((12, 1), (24, 2), (16, 2))  # layers, dilation; kernel 3 throughout


def _norm_relu(channels: int) -> nn.Sequential:
    """A batch norm then a ReLU, under the name ``batchnorm`` the weights use."""
    seq = nn.Sequential()
    seq.add_module("batchnorm", nn.BatchNorm1d(channels))
    seq.add_module("relu", nn.ReLU())
    return seq


class _Residual2d(nn.Module):
    """Two 3x3 convolutions with a skip; ``stride`` halves the frequency axis only."""

    def __init__(self, channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, (stride, 1), 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.shortcut = nn.Sequential()
        if stride != 1:
            self.shortcut.append(nn.Conv2d(channels, channels, 1, (stride, 1), bias=False))
            self.shortcut.append(nn.BatchNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = functional.relu(self.bn1(self.conv1(x)))
        return functional.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class _Front(nn.Module):
    """The 2-D convolutional front: ``(B, F, T)`` to ``(B, 32 * F / 8, T)``."""

    def __init__(self, channels: int = 32) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.layer1 = nn.Sequential(_Residual2d(channels, 2), _Residual2d(channels, 1))
        self.layer2 = nn.Sequential(_Residual2d(channels, 2), _Residual2d(channels, 1))
        self.conv2 = nn.Conv2d(channels, channels, 3, (2, 1), 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = functional.relu(self.bn1(self.conv1(x.unsqueeze(1))))
        y = self.layer2(self.layer1(y))
        y = functional.relu(self.bn2(self.conv2(y)))
        return y.flatten(1, 2)


class _Tdnn(nn.Module):
    """A 1-D convolution, then batch norm and ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int) -> None:
        super().__init__()
        self.linear = nn.Conv1d(cin, cout, kernel, stride, (kernel - 1) // 2, bias=False)
        self.nonlinear = _norm_relu(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.nonlinear(self.linear(x))
        return out


class _MaskedConv(nn.Module):
    """A kernel-3 convolution scaled by a mask drawn from clip and segment context."""

    def __init__(self, cin: int, cout: int, dilation: int) -> None:
        super().__init__()
        self.linear_local = nn.Conv1d(cin, cout, 3, padding=dilation, dilation=dilation, bias=False)
        self.linear1 = nn.Conv1d(cin, cin // 2, 1)
        self.linear2 = nn.Conv1d(cin // 2, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = x.shape[-1]
        # each frame's segment mean: 100-frame blocks, the last one possibly shorter
        seg = functional.avg_pool1d(x, _SEGMENT, _SEGMENT, ceil_mode=True)
        seg = seg.repeat_interleave(_SEGMENT, dim=-1)[..., :frames]
        context = x.mean(-1, keepdim=True) + seg
        mask = torch.sigmoid(self.linear2(functional.relu(self.linear1(context))))
        out: torch.Tensor = self.linear_local(x) * mask
        return out


class _DenseLayer(nn.Module):
    """One layer of a dense block: norm, 1x1 bottleneck, norm, masked convolution."""

    def __init__(self, cin: int, dilation: int) -> None:
        super().__init__()
        self.nonlinear1 = _norm_relu(cin)
        self.linear1 = nn.Conv1d(cin, _BOTTLENECK, 1, bias=False)
        self.nonlinear2 = _norm_relu(_BOTTLENECK)
        self.cam_layer = _MaskedConv(_BOTTLENECK, _GROWTH, dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.cam_layer(self.nonlinear2(self.linear1(self.nonlinear1(x))))
        return out


class _DenseBlock(nn.Module):
    """Layers ``tdnnd1``..``tdnndN``, each fed every earlier output (concatenated)."""

    def __init__(self, cin: int, layers: int, dilation: int) -> None:
        super().__init__()
        for i in range(layers):
            self.add_module(f"tdnnd{i + 1}", _DenseLayer(cin + i * _GROWTH, dilation))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.children():
            x = torch.cat([x, layer(x)], dim=1)
        return x


class _Transit(nn.Module):
    """Norm, ReLU and a 1x1 convolution that halves the channels."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.nonlinear = _norm_relu(cin)
        self.linear = nn.Conv1d(cin, cin // 2, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.linear(self.nonlinear(x))
        return out


class _Stats(nn.Module):
    """Mean and unbiased standard deviation over time, concatenated."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.mean(-1), x.std(-1, correction=1)], dim=-1)


class _Embedding(nn.Module):
    """A 1x1 projection and a batch norm without affine parameters."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.linear = nn.Conv1d(cin, DIM, 1, bias=False)
        self.nonlinear = nn.Sequential()
        self.nonlinear.add_module("batchnorm", nn.BatchNorm1d(DIM, affine=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.nonlinear(self.linear(x.unsqueeze(-1)).squeeze(-1))
        return out


class CamPlusPlus(nn.Module):
    """CAM++ (192-d output, 80 filterbank bands in); see the module docstring.

    ``forward`` takes ``(batch, frames, 80)`` features and returns ``(batch, 192)``
    embeddings, not normalised. It needs at least 3 frames (two after the strided TDNN,
    for a standard deviation).
    """

    def __init__(self) -> None:
        super().__init__()
        self.head = _Front()
        self.xvector = nn.Sequential()
        self.xvector.add_module("tdnn", _Tdnn(32 * FEATURES // 8, 128, 5, 2))
        channels = 128
        for i, (layers, dilation) in enumerate(_BLOCKS, start=1):
            self.xvector.add_module(f"block{i}", _DenseBlock(channels, layers, dilation))
            channels += layers * _GROWTH
            self.xvector.add_module(f"transit{i}", _Transit(channels))
            channels //= 2
        self.xvector.add_module("out_nonlinear", _norm_relu(channels))
        self.xvector.add_module("stats", _Stats())
        self.xvector.add_module("dense", _Embedding(2 * channels))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.xvector(self.head(features.transpose(1, 2)))
        return out
