"""Is each dubbed line right? Intelligibility, speaker similarity and timing, per line.

* :mod:`lipdub.quality.text`: CER and WER of a back-transcription, normalised text;
* :mod:`lipdub.quality.checker`: :class:`LineChecker` (a Whisper back-transcription
  and a speaker embedding of one line), :func:`make_checker`;
* :mod:`lipdub.quality.records`: :class:`LineQuality`, :class:`QualityOptions`;
* :mod:`lipdub.quality.summary`: the dub's summary for ``lipdub eval``.

The dub's ``quality`` stage (:mod:`lipdub.dub.stages.quality`) runs them on every line
and retries a failing line once; ``docs/quality.md`` tells the whole story.
"""

from lipdub.quality.checker import LineChecker, SpeakerEncoder, make_checker
from lipdub.quality.records import (
    Intelligibility,
    LineQuality,
    LineTiming,
    QualityOptions,
    Retry,
    SpeakerMatch,
)
from lipdub.quality.text import cer, normalize_text, wer

__all__ = [
    "Intelligibility",
    "LineChecker",
    "LineQuality",
    "LineTiming",
    "QualityOptions",
    "Retry",
    "SpeakerEncoder",
    "SpeakerMatch",
    "cer",
    "make_checker",
    "normalize_text",
    "wer",
]
