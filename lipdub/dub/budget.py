"""Each line's time budget, from the source timing: its slot plus the silences the
timing fit may borrow.

The fit (:func:`~lipdub.dub.timing.speak_transcript`) gives every line a *window*: it
may start up to ``max_lead_s`` before its source start (at most half the silence
before it, after ``min_pause_s``) and run until the next line's window opens, less
``min_pause_s`` (the last line: until the end of the media). Windows do not overlap,
so a line that fits its window at a speed up to ``max_rate`` never moves another line.
A line's :class:`~lipdub.types.fit.LineBudget` is its window: what a length-aware
translator is told (:func:`fit_request`).

Example: two 1 s lines with a 1 s silence between them, in 5 s of media; the first
may start 0.5 s early (``max_lead_s``), the second 0.45 s early (half the silence
less the pause), and the last runs to the end of the media:

    >>> from lipdub.types import Segment, Transcript
    >>> t = Transcript("en", (Segment(1.0, 2.0, "One."), Segment(3.0, 4.0, "Two.")))
    >>> [(b.slot_s, round(b.seconds, 2)) for b in line_budgets(t, total_s=5.0)]
    [(1.0, 1.95), (1.0, 2.45)]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from lipdub.dub.options import FitOptions
from lipdub.types import Transcript
from lipdub.types.fit import FitRequest, LineBudget, SpeechLength

__all__ = ["Window", "fit_request", "line_budgets", "line_windows"]


@dataclass(frozen=True, slots=True)
class Window:
    """Where one line may sound without moving another (seconds).

    Attributes:
        start_s: The earliest start: the source start less the silence it may borrow.
        end_s: The latest end: where the next line's window opens less ``min_pause_s``
            (the end of the media, or ``inf`` without one, for the last line).
    """

    start_s: float
    end_s: float

    @property
    def seconds(self) -> float:
        """The window's length (0 when crowded lines leave it none)."""
        return max(0.0, self.end_s - self.start_s)


def line_windows(
    spans: Sequence[tuple[float, float]],
    *,
    total_s: float | None,
    options: FitOptions | None = None,
) -> list[Window]:
    """The window of each ``(start_s, end_s)`` source span, in order (see the module).

    Args:
        spans: The lines' source spans, ordered by start.
        total_s: The end of the media (None: the last line's window is unbounded).
        options: The fit's ``max_lead_s`` and ``min_pause_s``.
    """
    options = options or FitOptions()
    pause = options.min_pause_s
    leads = []
    for k, (start, _) in enumerate(spans):
        before = start if k == 0 else (start - spans[k - 1][1] - pause) / 2
        leads.append(min(options.max_lead_s, max(0.0, before)))
    last_end = math.inf if total_s is None else total_s
    out = []
    for k, (start, _) in enumerate(spans):
        begin = start - leads[k]
        end = spans[k + 1][0] - leads[k + 1] - pause if k + 1 < len(spans) else last_end
        out.append(Window(begin, max(begin, end)))
    return out


def line_budgets(
    transcript: Transcript,
    *,
    total_s: float,
    options: FitOptions | None = None,
    length: SpeechLength | None = None,
) -> tuple[LineBudget, ...]:
    """One :class:`~lipdub.types.fit.LineBudget` per segment of ``transcript``.

    ``seconds`` is the line's window, ``slot_s`` its source span (inside the window:
    shorter only where source lines overlap), ``chars`` what ``length`` says fits in
    ``seconds`` at rate 1.0. A line without text gets an empty budget and leaves its
    time to its neighbours.

    Args:
        transcript: The source transcript (the lines' times).
        total_s: The end of the media.
        options: The fit's bounds.
        length: The target voice's speech-length predictor (None: no ``chars``).
    """
    segs = transcript.segments
    spoken = [i for i, s in enumerate(segs) if s.text.strip()]
    windows = line_windows(
        [(segs[i].start_s, segs[i].end_s) for i in spoken], total_s=total_s, options=options
    )
    out = [LineBudget(0.0, 0.0, 0 if length is not None else None) for _ in segs]
    for i, w in zip(spoken, windows, strict=True):
        seg = segs[i]
        slot = max(0.0, min(seg.end_s, w.end_s) - max(seg.start_s, w.start_s))
        seconds = max(slot, w.seconds)
        chars = length.chars_in(seconds) if length is not None else None
        out[i] = LineBudget(slot, seconds, chars)
    return tuple(out)


def fit_request(
    transcript: Transcript,
    length: SpeechLength,
    *,
    total_s: float,
    options: FitOptions | None = None,
) -> FitRequest:
    """What a length-aware translator is told about ``transcript``: every line's budget,
    the target voice's predictor, ``max_rate`` and the speakers."""
    options = options or FitOptions()
    return FitRequest(
        line_budgets(transcript, total_s=total_s, options=options, length=length),
        length,
        max_rate=options.max_rate,
        speakers=tuple(s.speaker for s in transcript.segments),
    )
