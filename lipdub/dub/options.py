"""Options of a dub that are not components: timing-fit bounds and run settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lipdub.errors import InputError
from lipdub.quality.records import QualityOptions

if TYPE_CHECKING:
    from lipdub.translate.glossary import Glossary

__all__ = ["FACE_MODES", "DubOptions", "FitOptions", "QualityOptions"]

#: The named values of :attr:`DubOptions.face` (besides a face id).
FACE_MODES = ("auto", "active", "largest")


@dataclass(frozen=True, slots=True)
class FitOptions:
    """How each dubbed line is fitted to the timing of its source line.

    The remedies, in order, for a line longer than its source line (see
    :func:`~lipdub.dub.timing.speak_transcript`):

    1. A translation that fits: a length-aware translator is told each line's time
       (:func:`~lipdub.dub.budget.line_budgets`).
    2. A faster speed, up to ``max_rate``: the voice's native ``rate`` first (backends
       that have one), then a pitch-keeping time-stretch for the rest. A short line is
       slowed down to ``min_rate`` to fill its slot. ``max_rate`` is the one ceiling: no
       line is ever spoken faster.
    3. The silences around the line: the one after it, up to where the next line may
       start, and up to ``max_lead_s`` of the one before it (half the silence at most,
       the rest is the line before's).
    4. Later lines moved into the silences that follow, each by up to ``max_delay_s``;
       they return to their source times as soon as a silence absorbs the delay.

    What still does not fit is too long: the dub refuses it
    (:class:`~lipdub.errors.TimingFitError`) unless truncation is allowed
    (:attr:`DubOptions.allow_truncation`), and then the line is cut with a short fade
    and reported. Two dubbed lines never sound at once, at least ``min_pause_s`` apart,
    and every line starts before the end of the media.

    Args:
        min_rate: Slowest total speed (short lines are slowed to fill their slot).
        max_rate: Fastest total speed, never exceeded (default 1.2x).
        max_lead_s: How much earlier than its source line a line may start, borrowing
            the silence before it (0: never early).
        max_delay_s: How much later than its source line a line may start, when the
            lines before it ran long.
        min_pause_s: Silence kept between two dubbed lines.
        trim_silence: Trim the voice's leading and trailing silence, so speech
            starts exactly at the placed start.

    Example:
        >>> FitOptions(max_rate=1.3).max_rate
        1.3
    """

    min_rate: float = 0.85
    max_rate: float = 1.2
    trim_silence: bool = True
    max_lead_s: float = 0.5
    max_delay_s: float = 1.0
    min_pause_s: float = 0.1

    def __post_init__(self) -> None:
        if not 0.25 <= self.min_rate <= 1.0 <= self.max_rate <= 4.0:
            raise InputError(
                f"FitOptions needs 0.25 <= min_rate <= 1 <= max_rate <= 4, "
                f"got {self.min_rate}, {self.max_rate}",
                hint="max_rate is the fastest speed a line is spoken at (1.2 by default)",
            )
        if not 0.0 <= self.max_lead_s <= 10.0:
            raise InputError(f"FitOptions needs 0 <= max_lead_s <= 10, got {self.max_lead_s}")
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
        glossary: Terms every translator renders a fixed way (``source -> target``, or
            kept as they are), read with
            :meth:`Glossary.load("terms.csv") <lipdub.translate.glossary.Glossary.load>`;
            its content is part of the translation's key, and a line of the
            translation that breaks a term is reported (a warning, and on its line of
            ``timing.<lang>.json`` and the review page).
        allow_truncation: Accept lines too long for their time even at
            ``fit.max_rate``: each is cut with a short fade and reported per line (in
            ``timing.<lang>.json`` and the summary). False (the default): such a dub
            stops before the video with :class:`~lipdub.errors.TimingFitError`
            naming the lines.
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
    glossary: Glossary | None = None
    allow_truncation: bool = False
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
        from lipdub.translate.glossary import Glossary

        if self.glossary is not None and not isinstance(self.glossary, Glossary):
            raise InputError(
                f"DubOptions.glossary takes a Glossary, got {type(self.glossary).__name__}",
                hint='read the file with Glossary.load("terms.csv")',
            )
        bad = [s for s in self.subtitles if s not in ("srt", "vtt")]
        if bad:
            raise InputError(f"unknown subtitle format(s) {bad}; use srt and/or vtt")
