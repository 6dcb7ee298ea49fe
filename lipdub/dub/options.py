"""Options of a dub that are not components: timing-fit bounds and run settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lipdub.errors import InputError
from lipdub.quality.records import QualityOptions

__all__ = ["FACE_MODES", "DubOptions", "FitOptions", "QualityOptions"]

#: The named values of :attr:`DubOptions.face` (besides a face id).
FACE_MODES = ("auto", "active", "largest")


@dataclass(frozen=True, slots=True)
class FitOptions:
    """How each dubbed line is fitted to the timing of its source line.

    Strategy, in order, for each line (see :func:`~lipdub.dub.timing.speak_transcript`):

    1. Speak it at a total speed within [``min_rate``, ``max_rate``] so it fills its
       source line's slot: the voice's native ``rate`` first (backends that have one),
       then a pitch-keeping time-stretch for the rest.
    2. If it is still longer, let it run into the silence before the next line
       (``borrow_gap``), and then let the next line start up to ``max_delay_s`` later
       than its source line (later lines catch up in the silences that follow).
    3. Only if that is not enough, speak faster than ``max_rate``, up to
       ``hard_max_rate``, just as fast as needed (logged and reported as a warning).
    4. What still does not fit is placed whole anyway and reported: the next line
       then starts more than ``max_delay_s`` late, and speech running past the end of
       the media is cut there with a short fade.

    Two dubbed lines never sound at once: each line starts at its source start or
    ``min_pause_s`` after the previous line ends, whichever is later.

    Args:
        min_rate: Slowest total speed (short lines are slowed to fill their slot).
        max_rate: Fastest comfortable total speed.
        hard_max_rate: Fastest speed ever used, only when needed (>= ``max_rate``;
            equal to it never goes beyond the comfortable speed).
        max_delay_s: How much later than its source line a line may start before
            the line before it must be sped up beyond ``max_rate``.
        min_pause_s: Silence kept between two dubbed lines.
        borrow_gap: Use the silence after a line's slot (and a delay of the next
            line) before speaking faster than ``max_rate``. False: the hard cap is
            tried first to keep the line inside its slot.
        trim_silence: Trim the voice's leading and trailing silence, so speech
            starts exactly at the placed start.
    """

    min_rate: float = 0.85
    max_rate: float = 1.3
    borrow_gap: bool = True
    trim_silence: bool = True
    hard_max_rate: float = 1.6
    max_delay_s: float = 1.0
    min_pause_s: float = 0.1

    def __post_init__(self) -> None:
        if not 0.25 <= self.min_rate <= 1.0 <= self.max_rate <= 4.0:
            raise InputError(
                f"FitOptions needs 0.25 <= min_rate <= 1 <= max_rate <= 4, "
                f"got {self.min_rate}, {self.max_rate}"
            )
        if not self.max_rate <= self.hard_max_rate <= 4.0:
            raise InputError(
                f"FitOptions needs max_rate <= hard_max_rate <= 4, got max_rate "
                f"{self.max_rate}, hard_max_rate {self.hard_max_rate}",
                hint="raise hard_max_rate with max_rate (equal values never go faster)",
            )
        if not 0.0 <= self.max_delay_s <= 60.0:
            raise InputError(f"FitOptions needs 0 <= max_delay_s <= 60, got {self.max_delay_s}")
        if not 0.0 <= self.min_pause_s <= 5.0:
            raise InputError(f"FitOptions needs 0 <= min_pause_s <= 5, got {self.min_pause_s}")


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
        face: Which face is lip-synced when several are seen: ``"active"`` (in each
            speech span the face whose mouth matches the source speech best, scored
            by the pipeline's ``speaker_scorer``; without one, the largest face, with
            a notice), ``"largest"`` (the largest face in each span), a face id
            (``"1"``: that face everywhere; the ids are in ``faces.json``), or
            ``"auto"`` (the default: ``"active"`` when a scorer is at hand, i.e. the
            syncnet_v2 weights are cached, else the face track alone, as before).
            The choice is written to the editable ``faces.json``.
        quality: The quality checks of every dubbed line (intelligibility, speaker
            similarity, timing) and their one retry; ``QualityOptions(check=False)``
            switches them off (see ``docs/quality.md``).
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
    face: str = "auto"
    quality: QualityOptions = field(default_factory=QualityOptions)

    def __post_init__(self) -> None:
        if isinstance(self.face, int) and not isinstance(self.face, bool) and self.face >= 0:
            object.__setattr__(self, "face", str(self.face))  # face=1 means "1"
        if not isinstance(self.face, str) or (
            self.face not in FACE_MODES and not (self.face.isascii() and self.face.isdigit())
        ):
            raise InputError(
                f"unknown face choice {self.face!r}",
                hint="use active, largest, auto or a face id from faces.json (0, 1, ...)",
            )
        bad = [s for s in self.subtitles if s not in ("srt", "vtt")]
        if bad:
            raise InputError(f"unknown subtitle format(s) {bad}; use srt and/or vtt")
