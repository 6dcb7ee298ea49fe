"""Limits that keep hostile or broken inputs from exhausting memory.

A 64 kB WAV can declare a 1 Hz sample rate (hours of audio once resampled), a 300 kB
JPEG can hold 64 megapixels, and a hand-edited transcript can put a segment at
``1e7`` seconds. lipdub checks such inputs against :class:`Limits` before it allocates
anything, and refuses them with an error that names the file, the value and the limit.

The defaults cover real media with room to spare; raise one with the keyword argument
of the function that reads the file (``load_audio(..., limits=Limits(...))``), or for a
whole run (the CLI included) with its environment variable:

=============================  ==============================  ==================
limit                          environment variable            default
=============================  ==============================  ==================
``min_sample_rate_hz``         ``LIPDUB_MIN_SAMPLE_RATE_HZ``   4000
``max_sample_rate_hz``         ``LIPDUB_MAX_SAMPLE_RATE_HZ``   384000
``max_audio_duration_s``       ``LIPDUB_MAX_AUDIO_DURATION_S`` 10800 (3 hours)
``max_frame_pixels``           ``LIPDUB_MAX_FRAME_PIXELS``     9437184 (4096x2304)
``max_image_pixels``           ``LIPDUB_MAX_IMAGE_PIXELS``     4194304 (2048x2048)
``segment_tolerance_s``        ``LIPDUB_SEGMENT_TOLERANCE_S``  1.0
``max_segment_chars``          ``LIPDUB_MAX_SEGMENT_CHARS``    20000
=============================  ==============================  ==================

Frames: a *video* whose frames are larger than ``max_frame_pixels`` is refused (8K
footage: downscale it first, or raise the limit); a *still image* larger than
``max_image_pixels`` is read downscaled to fit (aspect ratio kept), so a 48-megapixel
phone photo still works as a portrait, and the output video has the downscaled size
(an 8000x8000 JPEG gives a 2048x2048 video).

This module imports nothing heavy.

Example:
    >>> lim = Limits(max_audio_duration_s=60.0)
    >>> lim.max_sample_rate_hz, lim.max_audio_duration_s
    (384000, 60.0)
    >>> fit_pixels(8000, 8000, lim.max_image_pixels)
    (2048, 2048)
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Any

from lipdub.errors import InputError

__all__ = ["Limits", "fit_pixels"]

_ENV = {
    "min_sample_rate_hz": "LIPDUB_MIN_SAMPLE_RATE_HZ",
    "max_sample_rate_hz": "LIPDUB_MAX_SAMPLE_RATE_HZ",
    "max_audio_duration_s": "LIPDUB_MAX_AUDIO_DURATION_S",
    "max_frame_pixels": "LIPDUB_MAX_FRAME_PIXELS",
    "max_image_pixels": "LIPDUB_MAX_IMAGE_PIXELS",
    "segment_tolerance_s": "LIPDUB_SEGMENT_TOLERANCE_S",
    "max_segment_chars": "LIPDUB_MAX_SEGMENT_CHARS",
}


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what lipdub accepts from input files (see the module docs).

    Args:
        min_sample_rate_hz: Lowest declared audio sample rate accepted.
        max_sample_rate_hz: Highest declared audio sample rate accepted.
        max_audio_duration_s: Longest audio decoded (and longest timeline a transcript
            may describe when there is no media to compare it with).
        max_frame_pixels: Largest video frame (width x height) processed; larger
            videos are refused.
        max_image_pixels: Largest still image processed at its own size; larger ones
            are downscaled to fit.
        segment_tolerance_s: How far past the end of the media a transcript segment
            may end (speech recognisers round segment ends up).
        max_segment_chars: Longest text of one transcript segment (about twenty
            minutes of speech); a longer line is refused before any voice speaks it.
    """

    min_sample_rate_hz: int = 4000
    max_sample_rate_hz: int = 384_000
    max_audio_duration_s: float = 3 * 3600.0
    max_frame_pixels: int = 4096 * 2304
    max_image_pixels: int = 2048 * 2048
    segment_tolerance_s: float = 1.0
    max_segment_chars: int = 20_000

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InputError(f"Limits.{f.name} must be a number, got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise InputError(f"Limits.{f.name} must be finite and >= 0, got {value!r}")

    @classmethod
    def from_env(cls) -> Limits:
        """The defaults, overridden by the ``LIPDUB_*`` environment variables that are set.

        Raises:
            InputError: A variable is set to something that is not a number.
        """
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            name = _ENV[f.name]
            raw = os.environ.get(name, "").strip()
            if not raw:
                continue
            try:
                number = float(raw)
            except ValueError:
                raise InputError(
                    f"environment variable {name} must be a number, got {raw!r}"
                ) from None
            values[f.name] = int(number) if f.type in ("int", int) else number
        return cls(**values)

    @staticmethod
    def env_var(field_name: str) -> str:
        """The environment variable that sets ``field_name`` (for error hints)."""
        return _ENV[field_name]


def resolve(limits: Limits | None) -> Limits:
    """``limits``, or the environment's (:meth:`Limits.from_env`) when None."""
    return limits if limits is not None else Limits.from_env()


def fit_pixels(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    """The largest even size with ``width:height``'s aspect ratio within ``max_pixels``.

    Returns ``(width, height)`` unchanged when it already fits.
    """
    if width * height <= max_pixels:
        return width, height
    scale = math.sqrt(max_pixels / (width * height))
    w = max(2, math.floor(width * scale + 1e-9) // 2 * 2)
    h = max(2, math.floor(height * scale + 1e-9) // 2 * 2)
    return w, h
