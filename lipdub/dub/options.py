"""Options of a dub that are not components: timing-fit bounds and run settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lipdub.errors import InputError

__all__ = ["DubOptions", "FitOptions"]


@dataclass(frozen=True, slots=True)
class FitOptions:
    """How a spoken segment is fitted into its time slot.

    Strategy, in order: ask the voice for a speaking ``rate`` within
    [``min_rate``, ``max_rate``] (backends with a native rate); then time-stretch
    without changing pitch so the total speed-up stays within the same bounds; then
    borrow the silence before the next segment (``borrow_gap``); only then overflow,
    which the report records.
    """

    min_rate: float = 0.85
    max_rate: float = 1.3
    borrow_gap: bool = True
    trim_silence: bool = True

    def __post_init__(self) -> None:
        if not 0.25 <= self.min_rate <= 1.0 <= self.max_rate <= 4.0:
            raise InputError(
                f"FitOptions needs 0.25 <= min_rate <= 1 <= max_rate <= 4, "
                f"got {self.min_rate}, {self.max_rate}"
            )


@dataclass(frozen=True, slots=True)
class DubOptions:
    """Options of a dub run that are not components.

    Args:
        fit: Timing-fit bounds.
        keep_background: Keep the original non-speech sound under the new speech.
        subtitles: Subtitle formats to write beside the output (``"srt"``, ``"vtt"``).
        voice_map: Speaker label -> voice name.
        sample_rate_hz: Rate of the dubbed audio track.
        max_chars_per_line: Subtitle line length limit.
        pads: Face-crop padding (top, bottom, left, right) in pixels.
        batch_size: Lip-sync batch size (None: the syncer's suggestion).
        crf: H.264 quality of the output (lower is better, 18 is visually lossless).
        burn_subtitles: Draw the target-language subtitles into the video (needs
            Pillow, ``lipdub[subtitles]``, and a TrueType font).
        allow_no_face: Write the dub even when no frame shows a face (the video is
            then passed through with the new soundtrack) instead of raising
            :class:`~lipdub.errors.NoFaceError`.
    """

    fit: FitOptions = field(default_factory=FitOptions)
    keep_background: bool = True
    subtitles: tuple[str, ...] = ("srt",)
    voice_map: Mapping[str, str] = field(default_factory=dict)
    sample_rate_hz: int = 48000
    max_chars_per_line: int = 42
    pads: tuple[int, int, int, int] = (0, 10, 0, 0)
    batch_size: int | None = None
    crf: int = 18
    allow_no_face: bool = False
    burn_subtitles: bool = False

    def __post_init__(self) -> None:
        bad = [s for s in self.subtitles if s not in ("srt", "vtt")]
        if bad:
            raise InputError(f"unknown subtitle format(s) {bad}; use srt and/or vtt")
