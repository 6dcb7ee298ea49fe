"""The Wav2Lip generator network, written from its published layer tables.

The generator takes a mel-spectrogram window of the audio and a 6-channel face image
(the target crop with its lower half blanked, stacked with a reference crop) and
draws the face with a mouth that matches the audio. It is a U-Net: a face encoder
whose every stage is kept as a skip connection, an audio encoder that squeezes the
80x16 mel window into a 512-vector, and a decoder that starts from the audio vector
and grows back to 96x96, concatenating the matching encoder stage after each step.

Parameter names and shapes equal those of the published checkpoints (``wav2lip.pth``,
``wav2lip_gan.pth``) once their ``module.`` prefix is removed, so they load with
``strict=True``.

Example:
    >>> import torch
    >>> net = Wav2Lip().eval()
    >>> with torch.inference_mode():
    ...     out = net(torch.zeros(2, 1, 80, 16), torch.zeros(2, 6, 96, 96))
    >>> tuple(out.shape)
    (2, 3, 96, 96)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["ConvBlock", "Wav2Lip", "wav2lip_manifest"]

#: Side of the square face crops the generator works on, in pixels.
FACE_SIZE = 96
#: Mel bands and columns of one audio window (16 columns = 200 ms at 80 columns/s).
MEL_BANDS = 80
MEL_WINDOW = 16

_Pair = int | tuple[int, int]


class ConvBlock(nn.Module):
    """Convolution (with bias) -> BatchNorm -> [+ input] -> ReLU.

    Args:
        cin: Input channels.
        cout: Output channels.
        kernel: Kernel size.
        stride: Stride (an int, or ``(height, width)``).
        padding: Zero padding.
        residual: Add the block's input after the BatchNorm (needs ``cin == cout`` and
            stride 1).
        transpose: Use a transposed convolution (the decoder's upsampling blocks).
        output_padding: Extra output rows/columns of a transposed convolution.

    The parameters live in ``conv_block.0`` (convolution) and ``conv_block.1``
    (BatchNorm), the names the published checkpoints use.
    """

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int,
        stride: _Pair = 1,
        padding: int = 0,
        *,
        residual: bool = False,
        transpose: bool = False,
        output_padding: int = 0,
    ) -> None:
        super().__init__()
        conv: nn.Module
        if transpose:
            conv = nn.ConvTranspose2d(cin, cout, kernel, stride, padding, output_padding)
        else:
            conv = nn.Conv2d(cin, cout, kernel, stride, padding)
        self.conv_block = nn.Sequential(conv, nn.BatchNorm2d(cout))
        self.residual = residual
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, cin, H, W)`` -> ``(N, cout, H', W')``."""
        out = self.conv_block(x)
        if self.residual:
            out = out + x
        return self.act(out)  # type: ignore[no-any-return]


def _res(ch: int, count: int) -> list[nn.Module]:
    return [ConvBlock(ch, ch, 3, 1, 1, residual=True) for _ in range(count)]


def _down(cin: int, cout: int, residual_blocks: int) -> nn.Sequential:
    return nn.Sequential(ConvBlock(cin, cout, 3, 2, 1), *_res(cout, residual_blocks))


def _up(cin: int, cout: int, residual_blocks: int, *, first: bool = False) -> nn.Sequential:
    if first:  # 1x1 -> 3x3
        up = ConvBlock(cin, cout, 3, 1, 0, transpose=True)
    else:  # doubles the size
        up = ConvBlock(cin, cout, 3, 2, 1, transpose=True, output_padding=1)
    return nn.Sequential(up, *_res(cout, residual_blocks))


class Wav2Lip(nn.Module):
    """The Wav2Lip generator (about 36.3 M parameters, ~7.9 GFLOP per face).

    Call it with the audio first: ``net(audio_sequences, face_sequences)``.

    Inputs are either one frame per sample or a batch of short sequences:

    * ``audio_sequences`` ``(B, 1, 80, 16)`` float mel windows and
      ``face_sequences`` ``(B, 6, 96, 96)`` float in [0, 1] (channels 0-2: the target
      crop, BGR, lower half zeroed; channels 3-5: the reference crop) give
      ``(B, 3, 96, 96)`` BGR in [0, 1];
    * ``(B, T, 1, 80, 16)`` and ``(B, 6, T, 96, 96)`` give ``(B, 3, T, 96, 96)``;
      every frame is computed as in the 4-D form (time is folded into the batch).

    Example:
        >>> net = Wav2Lip().eval()
        >>> sum(p.numel() for p in net.parameters())
        36298035
    """

    def __init__(self) -> None:
        super().__init__()
        self.face_encoder_blocks = nn.ModuleList(
            [
                nn.Sequential(ConvBlock(6, 16, 7, 1, 3)),  # 96
                _down(16, 32, 2),  # 48
                _down(32, 64, 3),  # 24
                _down(64, 128, 2),  # 12
                _down(128, 256, 2),  # 6
                _down(256, 512, 1),  # 3
                nn.Sequential(ConvBlock(512, 512, 3, 1, 0), ConvBlock(512, 512, 1, 1, 0)),  # 1
            ]
        )
        self.audio_encoder = nn.Sequential(
            ConvBlock(1, 32, 3, 1, 1),
            *_res(32, 2),
            ConvBlock(32, 64, 3, (3, 1), 1),  # 80x16 -> 27x16
            *_res(64, 2),
            ConvBlock(64, 128, 3, 3, 1),  # -> 9x6
            *_res(128, 2),
            ConvBlock(128, 256, 3, (3, 2), 1),  # -> 3x3
            *_res(256, 1),
            ConvBlock(256, 512, 3, 1, 0),  # -> 1x1
            ConvBlock(512, 512, 1, 1, 0),
        )
        self.face_decoder_blocks = nn.ModuleList(
            [
                nn.Sequential(ConvBlock(512, 512, 1, 1, 0)),  # 1x1, +512 skip
                _up(1024, 512, 1, first=True),  # 3x3, +512 skip
                _up(1024, 512, 2),  # 6x6, +256 skip
                _up(768, 384, 2),  # 12x12, +128 skip
                _up(512, 256, 2),  # 24x24, +64 skip
                _up(320, 128, 2),  # 48x48, +32 skip
                _up(160, 64, 2),  # 96x96, +16 skip
            ]
        )
        self.output_block = nn.Sequential(ConvBlock(80, 32, 3, 1, 1), nn.Conv2d(32, 3, 1))

    def forward(self, audio_sequences: torch.Tensor, face_sequences: torch.Tensor) -> torch.Tensor:
        """Generate faces; see the class docstring for the shapes."""
        sequences = face_sequences.dim() == 5
        if sequences:
            b, t = audio_sequences.shape[:2]
            audio_sequences = audio_sequences.transpose(0, 1).reshape(
                t * b, *audio_sequences.shape[2:]
            )
            face_sequences = face_sequences.permute(2, 0, 1, 3, 4).reshape(
                t * b, face_sequences.shape[1], *face_sequences.shape[3:]
            )
        out = self._generate(audio_sequences, face_sequences)
        if sequences:
            out = out.reshape(t, b, *out.shape[1:]).permute(1, 2, 0, 3, 4)
        return out

    def _generate(self, audio: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        skips: list[torch.Tensor] = []
        x = faces
        for stage in self.face_encoder_blocks:
            x = stage(x)
            skips.append(x)
        x = self.audio_encoder(audio)
        for stage in self.face_decoder_blocks:
            x = torch.cat([stage(x), skips.pop()], dim=1)
        return torch.sigmoid(self.output_block(x))


def wav2lip_manifest() -> list[tuple[str, tuple[int, ...], str]]:
    """``[(key, shape, dtype), ...]`` of :class:`Wav2Lip`'s state dict, in order.

    Built on the ``meta`` device, so it allocates no memory.

    Example:
        >>> m = wav2lip_manifest()
        >>> len(m), m[0]
        (352, ('face_encoder_blocks.0.0.conv_block.0.weight', (16, 6, 7, 7), 'float32'))
    """
    with torch.device("meta"):
        net = Wav2Lip()
    return [
        (k, tuple(v.shape), str(v.dtype).removeprefix("torch."))
        for k, v in net.state_dict().items()
    ]


def expected_shapes() -> dict[str, tuple[int, ...]]:
    """``{key: shape}`` of the generator's state dict (for :func:`lipdub.hub.load_state_dict`)."""
    return {k: s for k, s, _ in wav2lip_manifest()}


def count_parameters(net: nn.Module, kinds: Sequence[type[nn.Module]] = ()) -> int:
    """Number of parameters (or of modules of the given kinds, if ``kinds`` is given)."""
    if kinds:
        return sum(1 for m in net.modules() if isinstance(m, tuple(kinds)))
    return sum(p.numel() for p in net.parameters())
