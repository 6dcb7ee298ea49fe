"""The Wav2Lip generator rewritten for export to an inference runtime (same numbers).

:func:`deployable` turns a :class:`~lipdub.models.wav2lip.Wav2Lip` into a network of
plain convolutions that computes the same faces (to float32 rounding, ~1e-6):

* every BatchNorm (eval mode) is folded into the convolution before it;
* every transposed convolution becomes an ordinary convolution, because int8 runtimes
  (ONNX Runtime's CPU provider among them) quantise ``Conv`` but run ``ConvTranspose``
  in float32, where it would take half the time of an int8 generator:

  - stride 1 (the decoder's 1x1 -> 3x3 step): a convolution with the kernel flipped,
    its in/out channels swapped and ``kernel - 1 - padding`` zero padding;
  - stride 2, kernel 3, padding 1, output padding 1 (every doubling step): a 2x2
    convolution giving the four output phases as ``4 * cout`` channels (input padded
    by one row and column at the bottom/right), interleaved by a pixel shuffle. Output
    pixel ``(2m + py, 2n + px)`` takes input row ``m`` through kernel row 1 when
    ``py = 0``, and rows ``m`` and ``m + 1`` through kernel rows 2 and 0 when ``py = 1``
    (columns alike).

:func:`export_onnx` writes the result as an ONNX graph with a dynamic batch axis.

Example:
    >>> import torch
    >>> from lipdub.models.wav2lip import Wav2Lip
    >>> net = Wav2Lip().eval()
    >>> mel, faces = torch.randn(2, 1, 80, 16), torch.rand(2, 6, 96, 96)
    >>> with torch.inference_mode():
    ...     same = torch.allclose(deployable(net)(mel, faces), net(mel, faces), atol=1e-5)
    >>> same
    True
"""

from __future__ import annotations

import copy
import os
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from lipdub.models.wav2lip import ConvBlock, Wav2Lip

__all__ = ["FoldedBlock", "deployable", "export_onnx"]

#: (output phase, input offset) -> kernel index of a stride-2, kernel-3, padding-1
#: transposed convolution (see the module docstring).
_PHASE_TAPS = {(0, 0): 1, (1, 0): 2, (1, 1): 0}


def _bn_scale_shift(bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    var = bn.running_var
    mean = bn.running_mean
    assert var is not None and mean is not None
    scale = bn.weight.detach() / torch.sqrt(var + bn.eps)
    return scale, bn.bias.detach() - mean * scale


class FoldedBlock(nn.Module):
    """A :class:`~lipdub.models.wav2lip.ConvBlock` as convolution [+ pixel shuffle]
    [+ input] -> ReLU, its BatchNorm folded in (see the module docstring).

    Raises:
        ValueError: a transposed convolution of a shape this rewrite does not cover.
    """

    def __init__(self, block: ConvBlock) -> None:
        super().__init__()
        conv, bn = block.conv_block[0], block.conv_block[1]
        assert isinstance(bn, nn.BatchNorm2d)
        scale, shift = _bn_scale_shift(bn)
        self.residual = block.residual
        self.shuffle = False
        assert isinstance(conv, nn.Conv2d | nn.ConvTranspose2d)
        weight = conv.weight.detach()
        bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(scale)
        if isinstance(conv, nn.ConvTranspose2d):
            cin, cout, k, _ = weight.shape
            if conv.stride == (1, 1):
                pad = k - 1 - int(conv.padding[0])
                folded = nn.Conv2d(cin, cout, k, 1, pad)
                w = weight.flip(2, 3).transpose(0, 1)
            elif (
                conv.stride == (2, 2)
                and k == 3
                and conv.padding == (1, 1)
                and conv.output_padding == (1, 1)
            ):
                w5 = torch.zeros(cout, 4, cin, 2, 2, dtype=weight.dtype)
                for (py, dy), ky in _PHASE_TAPS.items():
                    for (px, dx), kx in _PHASE_TAPS.items():
                        w5[:, py * 2 + px, :, dy, dx] = weight[:, :, ky, kx].T
                folded = nn.Conv2d(cin, 4 * cout, 2, 1, 0)
                w = w5.reshape(4 * cout, cin, 2, 2)
                scale, shift, bias = (t.repeat_interleave(4) for t in (scale, shift, bias))
                self.shuffle = True
            else:
                raise ValueError(f"no convolution form for {conv}")
        else:
            kh, kw = conv.kernel_size
            sh, sw = conv.stride
            pad2 = conv.padding
            assert isinstance(pad2, tuple)
            padding = (int(pad2[0]), int(pad2[1]))
            folded = nn.Conv2d(conv.in_channels, conv.out_channels, (kh, kw), (sh, sw), padding)
            w = weight
        with torch.no_grad():
            folded.weight.copy_(w * scale[:, None, None, None])
            assert folded.bias is not None
            folded.bias.copy_(bias * scale + shift)
        self.conv = folded

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Same as the block it was made from."""
        if self.shuffle:
            out = F.pixel_shuffle(self.conv(F.pad(x, (0, 1, 0, 1))), 2)
        else:
            out = self.conv(x)
        if self.residual:
            out = out + x
        return F.relu(out)


def _fold(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, ConvBlock):
            setattr(module, name, FoldedBlock(child))
        else:
            _fold(child)


def deployable(net: Wav2Lip) -> Wav2Lip:
    """A copy of ``net`` (eval mode) with BatchNorms folded and transposed convolutions
    rewritten as convolutions; ``net`` itself is left as it is."""
    out = copy.deepcopy(net).eval()
    _fold(out)
    return out


def export_onnx(net: Wav2Lip, path: str | os.PathLike[str], *, opset: int = 17) -> None:
    """Write :func:`deployable` ``(net)`` as ONNX: inputs ``mel`` ``(B, 1, 80, 16)`` and
    ``face`` ``(B, 6, 96, 96)``, output ``out`` ``(B, 3, 96, 96)``, batch axis dynamic."""
    model = deployable(net).cpu().float()
    args = (torch.zeros(8, 1, 80, 16), torch.zeros(8, 6, 96, 96))
    batch = {0: "batch"}
    with warnings.catch_warnings():
        # the TorchScript exporter needs no extra package; it warns that it is the old one
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            args,
            os.fspath(path),
            input_names=["mel", "face"],
            output_names=["out"],
            dynamic_axes={"mel": batch, "face": batch, "out": batch},
            opset_version=opset,
            dynamo=False,
        )
