"""Who says each line: the transcript split at every speaker change, every segment labelled.

:func:`assign_speakers` is a pure function of a transcript and the speaker turns
(``speakers.json``), so a person's edit of either is simply read again on the next run.

* A segment with word times is split between words: each word goes to the speaker who
  talks most during it (a word in a pause, to the nearest turn), and a new segment
  starts wherever that speaker changes.
* A segment without word times (a hand-written transcript, a recogniser without word
  times) is split at the turn boundaries inside it (in the middle of the pause between
  two turns), and its text is divided where the time is divided: at the punctuation
  mark nearest to that point, else in proportion to each part's length in characters.
  Such a split is a guess and is reported (:attr:`SpeakerAssignment.estimated`).
* A segment no turn overlaps goes to the nearest turn's speaker; only with no turns at
  all does it keep the speaker it had (None from a recogniser).
* A segment that already names one of the turns' speakers (a person wrote it into the
  transcript) keeps it and is not split.

Example:
    >>> from lipdub.diarize.base import SpeakerTurn
    >>> from lipdub.types import Segment, Transcript
    >>> tr = Transcript("en", (Segment(0.0, 4.0, "Are you there? Yes, I am."),))
    >>> turns = [SpeakerTurn(0.0, 1.8, "S1"), SpeakerTurn(2.0, 4.0, "S2")]
    >>> out = assign_speakers(tr, turns)
    >>> [(s.start_s, s.end_s, s.speaker, s.text) for s in out.transcript.segments]
    [(0.0, 1.9, 'S1', 'Are you there?'), (1.9, 4.0, 'S2', 'Yes, I am.')]
    >>> out.estimated[0].describe()
    'segment 0 (0.00-4.00 s, no word times) split at 1.90 s, its text at punctuation'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import accumulate
from typing import Literal

from lipdub.diarize.base import SpeakerTurn
from lipdub.transcribe._segment import join_words
from lipdub.types import Segment, Transcript, Word

__all__ = ["EstimatedSplit", "SpeakerAssignment", "assign_speakers", "label_segments"]

#: A text cut this near (in characters, as a share of the text) to where the time is
#: cut may move to a punctuation mark.
_PUNCT_REACH = 0.25
_PUNCT = re.compile(r"[.!?…;:,—–。！？；：、，][\"'”’»)\]]*$")


@dataclass(frozen=True, slots=True)
class EstimatedSplit:
    """A segment without word times split at speaker changes: its text cut by guess.

    Attributes:
        index: The segment's index in the transcript given.
        start_s: Its start.
        end_s: Its end.
        cuts_s: Where the time was cut (seconds).
        how: How the text was cut: ``"punctuation"`` (every cut at a punctuation mark),
            ``"proportion"`` (by length, at least one cut) or ``"undivided"`` (a text of
            one word: it all went to the speaker with the most time).
    """

    index: int
    start_s: float
    end_s: float
    cuts_s: tuple[float, ...]
    how: Literal["punctuation", "proportion", "undivided"]

    def describe(self) -> str:
        """One phrase naming the segment and how it was split."""
        where = f"segment {self.index} ({self.start_s:.2f}-{self.end_s:.2f} s, no word times)"
        if self.how == "undivided":
            return f"{where} spans a speaker change but is one word: not split"
        cuts = ", ".join(f"{c:.2f}" for c in self.cuts_s)
        text = "at punctuation" if self.how == "punctuation" else "in proportion to time"
        return f"{where} split at {cuts} s, its text {text}"


@dataclass(frozen=True, slots=True)
class SpeakerAssignment:
    """The labelled transcript and what was guessed on the way.

    Attributes:
        transcript: Every segment labelled (when there is any turn), split at changes.
        origin: For each of its segments, the index of the segment it came from.
        estimated: The splits made without word times (their text cut by guess).
    """

    transcript: Transcript
    origin: tuple[int, ...]
    estimated: tuple[EstimatedSplit, ...]


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return min(a1, b1) - max(a0, b0)


def _distance(t: SpeakerTurn, a: float, b: float) -> float:
    """Seconds between the span ``[a, b]`` and the turn (0 when they touch or overlap)."""
    return max(0.0, t.start_s - b, a - t.end_s)


def _speaker_of(turns: Sequence[SpeakerTurn], a: float, b: float) -> str | None:
    """The speaker who talks most in ``[a, b]``; for a span (or instant) in a pause,
    the nearest turn's (the earlier on a tie); None without turns."""
    totals: dict[str, float] = {}
    for t in turns:
        o = _overlap(a, b, t.start_s, t.end_s)
        if o > 0 or (a == b and t.start_s <= a < t.end_s):
            totals[t.speaker] = totals.get(t.speaker, 0.0) + max(o, 0.0)
    if totals:
        return max(totals, key=lambda k: totals[k])  # first-seen wins a tie
    if not turns:
        return None
    return min(turns, key=lambda t: _distance(t, a, b)).speaker


def _by_words(seg: Segment, turns: Sequence[SpeakerTurn]) -> list[Segment]:
    runs: list[tuple[str | None, list[Word]]] = []
    for w in seg.words:
        who = _speaker_of(turns, w.start_s, w.end_s)
        if runs and runs[-1][0] == who:
            runs[-1][1].append(w)
        else:
            runs.append((who, [w]))
    if len(runs) <= 1:
        return [replace(seg, speaker=_speaker_of(turns, seg.start_s, seg.end_s) or seg.speaker)]
    joiner = " " if " " in seg.text.strip() else ""
    out = []
    for k, (who, words) in enumerate(runs):
        start = seg.start_s if k == 0 else words[0].start_s
        end = seg.end_s if k == len(runs) - 1 else words[-1].end_s
        out.append(
            replace(
                seg,
                start_s=start,
                end_s=max(start, end),
                text=join_words(words, joiner),
                speaker=who,
                words=tuple(words),
            )
        )
    return out


def _parts(seg: Segment, turns: Sequence[SpeakerTurn]) -> list[tuple[str, float, float]]:
    """The speakers' runs inside ``seg``: ``(speaker, start, end)``, cut in the middle of
    the pause between two speakers' turns; the first starts at the segment's start and
    the last ends at its end."""
    runs: list[tuple[str, float, float]] = []  # speaker, first turn start, last turn end
    for t in turns:
        if _overlap(seg.start_s, seg.end_s, t.start_s, t.end_s) <= 0:
            continue
        if runs and runs[-1][0] == t.speaker:
            runs[-1] = (t.speaker, runs[-1][1], max(runs[-1][2], t.end_s))
        else:
            runs.append((t.speaker, t.start_s, t.end_s))
    parts = []
    for k, (who, _, _) in enumerate(runs):
        start = seg.start_s if k == 0 else (runs[k - 1][2] + runs[k][1]) / 2
        end = seg.end_s if k == len(runs) - 1 else (runs[k][2] + runs[k + 1][1]) / 2
        start, end = min(max(start, seg.start_s), seg.end_s), min(max(end, seg.start_s), seg.end_s)
        parts.append((who, start, max(start, end)))
    return parts


def _cut_text(tokens: list[str], shares: list[float]) -> tuple[list[int], bool]:
    """Where to cut ``tokens`` (needs at least one token per part): for each cumulative
    time share (0..1) a cut index, increasing, and whether every cut is at punctuation.

    A cut goes where the text's share (in characters) is nearest the time's share, moved
    to the nearest punctuation mark within :data:`_PUNCT_REACH` of it."""
    total = sum(len(t) + 1 for t in tokens)
    before = list(accumulate(len(t) + 1 for t in tokens))  # before[c - 1]: chars before cut c
    cuts: list[int] = []
    at_punct = True
    for k, share in enumerate(shares):
        lo = (cuts[-1] if cuts else 0) + 1
        hi = len(tokens) - len(shares) + k  # leave a token for every later part
        options = range(lo, hi + 1)

        def gap(c: int, share: float = share) -> float:
            return abs(before[c - 1] / total - share)

        punct = [c for c in options if _PUNCT.search(tokens[c - 1]) and gap(c) <= _PUNCT_REACH]
        cuts.append(min(punct or options, key=gap))
        at_punct = at_punct and bool(punct)
    return cuts, at_punct


def _by_time(
    seg: Segment, index: int, turns: Sequence[SpeakerTurn]
) -> tuple[list[Segment], EstimatedSplit | None]:
    parts = _parts(seg, turns)
    if len(parts) <= 1:
        who = parts[0][0] if parts else _speaker_of(turns, seg.start_s, seg.end_s)
        return [replace(seg, speaker=who or seg.speaker)], None
    tokens = seg.text.split()
    cuts_s = tuple(round(b, 3) for _, _, b in parts[:-1])
    if len(tokens) < 2:
        longest = max(parts, key=lambda p: p[2] - p[1])[0]
        note = EstimatedSplit(index, seg.start_s, seg.end_s, cuts_s, "undivided")
        return [replace(seg, speaker=longest)], note
    span = seg.end_s - seg.start_s
    shares = [(b - seg.start_s) / span for _, _, b in parts[:-1]]
    if len(parts) > len(tokens):  # more speakers than words: the longest parts get them
        keep = sorted(sorted(parts, key=lambda p: p[1] - p[2])[: len(tokens)], key=lambda p: p[1])
        return _by_time(seg, index, [SpeakerTurn(a, b, who) for who, a, b in keep])
    cuts, at_punct = _cut_text(tokens, shares)
    bounds = [0, *cuts, len(tokens)]
    out = [
        replace(
            seg, start_s=a, end_s=b, text=" ".join(tokens[bounds[k] : bounds[k + 1]]), speaker=who
        )
        for k, (who, a, b) in enumerate(parts)
    ]
    how: Literal["punctuation", "proportion"] = "punctuation" if at_punct else "proportion"
    return out, EstimatedSplit(index, seg.start_s, seg.end_s, cuts_s, how)


def assign_speakers(transcript: Transcript, turns: Sequence[SpeakerTurn]) -> SpeakerAssignment:
    """Label every segment of ``transcript`` with its speaker, split at speaker changes.

    See the module docstring for the rules. Blank segments are labelled, never split.

    Args:
        transcript: The source transcript (word times used where present).
        turns: The speaker turns, sorted by start (``speakers.json``).

    Returns:
        The labelled transcript, each segment's origin, and the splits guessed without
        word times.
    """
    labels = {t.speaker for t in turns}
    segments: list[Segment] = []
    origin: list[int] = []
    notes: list[EstimatedSplit] = []
    for i, seg in enumerate(transcript.segments):
        if seg.speaker is not None and seg.speaker in labels:
            parts, note = [seg], None  # a person named the speaker: theirs
        elif seg.words:
            parts, note = _by_words(seg, turns), None
        elif seg.text.strip():
            parts, note = _by_time(seg, i, turns)
        else:
            who = _speaker_of(turns, seg.start_s, seg.end_s)
            parts, note = [replace(seg, speaker=who or seg.speaker)], None
        segments.extend(parts)
        origin.extend([i] * len(parts))
        if note is not None:
            notes.append(note)
    return SpeakerAssignment(
        replace(transcript, segments=tuple(segments)), tuple(origin), tuple(notes)
    )


def label_segments(transcript: Transcript, turns: Sequence[SpeakerTurn]) -> Transcript:
    """``transcript`` with every segment labelled by its speaker, split at speaker changes.

    :func:`assign_speakers`'s transcript alone (without the notes on guessed splits).

    Example:
        >>> from lipdub.types import Segment, Transcript
        >>> tr = Transcript("en", (Segment(0.0, 4.0, "one two three four"),))
        >>> turns = [SpeakerTurn(0.0, 2.0, "S1"), SpeakerTurn(2.0, 4.0, "S2")]
        >>> [(s.speaker, s.text) for s in label_segments(tr, turns).segments]
        [('S1', 'one two'), ('S2', 'three four')]
    """
    return assign_speakers(transcript, turns).transcript
