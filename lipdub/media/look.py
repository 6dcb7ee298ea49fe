"""How a video's stored pixels are meant to be shown, so that a re-encode shows them alike.

A decoded frame is only numbers; four things in the file say how a player turns them
into a picture, and an output that drops them looks wrong even with perfect pixels:

* the **pixel aspect ratio** (SAR): an anamorphic DVD frame of 720x576 with SAR
  64:45 is shown 1024 pixels wide; without it, it is shown squeezed;
* the **display rotation** (the display matrix): a phone stores 1920x1080 and says
  "turn 90 degrees";
* the **colour range**: limited (16-235, video) or full (0-255, JPEG-style);
* the **colour description**: primaries, transfer curve and YUV matrix (BT.601,
  BT.709, BT.2020...).

:meth:`VideoLook.of` reads them from an input (FFmpeg's names through PyAV:
``codec_context.sample_aspect_ratio``, ``color_range``, ``color_primaries``,
``color_trc``, ``colorspace``, the frame's ``rotation``), and
:class:`~lipdub.media.VideoWriter` ``look=`` writes them back: the SAR into the H.264
VUI and the MP4 ``pasp`` box, the rotation as the stream's display matrix (the frames,
given upright as :class:`~lipdub.media.VideoReader` delivers them, are stored turned
back as the input stored them), the range and matrix by converting to YUV with them,
and all four as the stream's colour tags.

Example:
    >>> look = VideoLook(sample_aspect_ratio=Fraction(128, 117), rotation=90)
    >>> look.display_size(64, 48)  # stored 64x48, shown turned and widened
    (48, 70)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from lipdub.errors import InputError
from lipdub.typing import PathLike

__all__ = ["VideoLook"]

#: FFmpeg's "unspecified" for colour primaries, transfer and matrix (AVCOL_*_UNSPECIFIED).
UNSPECIFIED = 2
#: FFmpeg's AVCOL_RANGE_UNSPECIFIED / _MPEG (limited) / _JPEG (full).
RANGE_UNSPECIFIED, RANGE_LIMITED, RANGE_FULL = 0, 1, 2

#: FFmpeg's YUV matrix (AVColorSpace) -> swscale's matrix (SWS_CS_*), for the conversion.
_SWS_MATRIX = {1: 1, 4: 4, 5: 5, 6: 5, 7: 7, 9: 9, 10: 9}


@dataclass(frozen=True, slots=True)
class VideoLook:
    """The display properties of a video stream that a re-encode must carry over.

    Attributes:
        sample_aspect_ratio: Width of one stored pixel over its height (None: square
            or unknown).
        rotation: Clockwise display rotation, 0/90/180/270.
        color_range: FFmpeg's AVColorRange: 0 unspecified, 1 limited, 2 full.
        color_primaries: FFmpeg's AVColorPrimaries (1 BT.709, 2 unspecified, 9 BT.2020...).
        color_trc: FFmpeg's AVColorTransferCharacteristic (1 BT.709, 16 PQ, 18 HLG...).
        colorspace: FFmpeg's AVColorSpace, the YUV matrix (1 BT.709, 5/6 BT.601...).
    """

    sample_aspect_ratio: Fraction | None = None
    rotation: int = 0
    color_range: int = RANGE_UNSPECIFIED
    color_primaries: int = UNSPECIFIED
    color_trc: int = UNSPECIFIED
    colorspace: int = UNSPECIFIED

    def __post_init__(self) -> None:
        if self.rotation not in (0, 90, 180, 270):
            raise InputError(f"VideoLook.rotation must be 0, 90, 180 or 270, got {self.rotation}")
        sar = self.sample_aspect_ratio
        if sar is not None and not (isinstance(sar, Fraction) and 0.01 < sar < 100):
            raise InputError(
                f"VideoLook.sample_aspect_ratio must be a Fraction in (0.01, 100), got {sar!r}"
            )
        for name in ("color_range", "color_primaries", "color_trc", "colorspace"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 256:
                raise InputError(f"VideoLook.{name} must be an FFmpeg enum value, got {value!r}")

    @classmethod
    def of(cls, path: PathLike) -> VideoLook:
        """The look of the first video stream of ``path`` (a still image: the default).

        Stream-level values come first; where the container leaves one unspecified, the
        first decoded frame's (from the codec's own headers) is used.

        Raises:
            MediaError: The file cannot be read or has no video stream.
        """
        from lipdub.media._open import IMAGE_FORMATS, open_input
        from lipdub.media.reader import _first_frame, _frame_rotation, _tag_rotation

        container = open_input(path)
        try:
            if not container.streams.video or container.format.name in IMAGE_FORMATS:
                return cls()
            stream: Any = container.streams.video[0]
            ctx = stream.codec_context
            first = _first_frame(container, Path(path))
            tag = _tag_rotation(stream)
            rotation = tag if tag is not None else _frame_rotation(first)

            def pick(name: str, unknown: int) -> int:
                value = int(getattr(ctx, name, unknown) or unknown)
                if value == unknown:
                    value = int(getattr(first, name, unknown) or unknown)
                return value

            return cls(
                sample_aspect_ratio=_sar(stream.sample_aspect_ratio or ctx.sample_aspect_ratio),
                rotation=rotation,
                color_range=pick("color_range", RANGE_UNSPECIFIED),
                color_primaries=pick("color_primaries", UNSPECIFIED),
                color_trc=pick("color_trc", UNSPECIFIED),
                colorspace=pick("colorspace", UNSPECIFIED),
            )
        finally:
            container.close()

    @property
    def is_default(self) -> bool:
        """Whether there is nothing to carry over (square pixels, upright, untagged)."""
        return self == VideoLook()

    def display_size(self, width: int, height: int) -> tuple[int, int]:
        """The size a player shows a ``width`` x ``height`` stored frame at (SAR, rotation)."""
        sar = self.sample_aspect_ratio or Fraction(1)
        w, h = (round(width * sar), height) if sar >= 1 else (width, round(height / sar))
        return (h, w) if self.rotation in (90, 270) else (w, h)

    def sws_matrix(self) -> int | None:
        """swscale's number for the YUV matrix, or None (swscale's default, BT.601)."""
        return _SWS_MATRIX.get(self.colorspace)

    def tag(self, codec_context: Any) -> None:
        """Write the SAR and colour description into an encoder's codec context."""
        if self.sample_aspect_ratio is not None:
            codec_context.sample_aspect_ratio = self.sample_aspect_ratio
        if self.color_range != RANGE_UNSPECIFIED:
            codec_context.color_range = self.color_range
        # a matrix swscale cannot convert with is left unspecified rather than mislabelled
        if self.sws_matrix() is not None:
            codec_context.colorspace = self.colorspace
        if self.color_primaries != UNSPECIFIED:
            codec_context.color_primaries = self.color_primaries
        if self.color_trc != UNSPECIFIED:
            codec_context.color_trc = self.color_trc


def _sar(value: Any) -> Fraction | None:
    """A usable SAR from PyAV's (None, 0/1 or 1:1 mean square pixels)."""
    if value is None:
        return None
    try:
        sar = Fraction(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if sar <= 0 or sar == 1 or not math.isfinite(float(sar)) or not 0.01 < sar < 100:
        return None
    return sar
