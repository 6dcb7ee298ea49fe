"""What a probe learns about a media file: :class:`VideoInfo`."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from lipdub.errors import InputError

__all__ = ["VideoInfo"]


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """What :func:`lipdub.media.probe` learns about a video (or still image) file.

    ``fps`` is exact (``Fraction(30000, 1001)`` for 29.97). ``rotation`` is the
    display rotation in degrees (0, 90, 180, 270) that lipdub applies when it decodes,
    so ``width``/``height`` are the size of the frames you get (after rotation).
    ``is_image`` marks a still picture: it has one frame and no duration of its own.

    Example:
        >>> info = VideoInfo("a.mp4", Fraction(25), 640, 360, 250, 10.0)
        >>> info.frame_duration_s
        0.04
    """

    path: str
    fps: Fraction
    width: int
    height: int
    frame_count: int
    duration_s: float
    rotation: int = 0
    has_audio: bool = False
    audio_sample_rate_hz: int | None = None
    codec: str | None = None
    is_image: bool = False
    variable_frame_rate: bool = False

    def __post_init__(self) -> None:
        fps = Fraction(self.fps).limit_denominator(1_000_000)
        if fps <= 0:
            raise InputError(f"VideoInfo.fps must be > 0, got {self.fps}")
        object.__setattr__(self, "fps", fps)
        if self.width <= 0 or self.height <= 0:
            raise InputError(f"VideoInfo size must be positive, got {self.width}x{self.height}")
        if self.rotation % 90 != 0:
            raise InputError(f"VideoInfo.rotation must be a multiple of 90, got {self.rotation}")
        object.__setattr__(self, "rotation", self.rotation % 360)

    @property
    def frame_duration_s(self) -> float:
        """Seconds per frame."""
        return float(1 / self.fps)

    def describe(self) -> str:
        """A human-readable multi-line summary (what ``lipdub probe`` prints)."""
        kind = "image" if self.is_image else "video"
        lines = [
            f"file:       {self.path}",
            f"kind:       {kind}" + (f" ({self.codec})" if self.codec else ""),
            f"size:       {self.width}x{self.height}",
        ]
        if not self.is_image:
            vfr = " (variable; resampled to this rate)" if self.variable_frame_rate else ""
            lines += [
                f"fps:        {float(self.fps):.3f} ({self.fps}){vfr}",
                f"frames:     {self.frame_count}",
                f"duration:   {self.duration_s:.3f} s",
                f"rotation:   {self.rotation}",
            ]
        audio = f"yes ({self.audio_sample_rate_hz} Hz)" if self.has_audio else "no"
        lines.append(f"audio:      {audio}")
        return "\n".join(lines)
