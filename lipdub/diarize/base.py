"""The :class:`Diarizer` interface: speaker turns in a recording, and labelled segments."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, replace

from lipdub.component import Component
from lipdub.errors import InputError
from lipdub.events import EventCallback
from lipdub.types import AudioClip, Segment, Transcript

__all__ = ["Diarizer", "SpeakerTurn", "label_segments"]


@dataclass(frozen=True, slots=True)
class SpeakerTurn:
    """One speaker talking from ``start_s`` to ``end_s`` (seconds).

    Example:
        >>> SpeakerTurn(0.0, 1.5, "S1").duration_s
        1.5
    """

    start_s: float
    end_s: float
    speaker: str

    def __post_init__(self) -> None:
        if not 0 <= self.start_s <= self.end_s:
            raise InputError(f"a turn needs 0 <= start <= end, got {self.start_s}..{self.end_s}")
        if not self.speaker:
            raise InputError("a turn needs a speaker label")

    @property
    def duration_s(self) -> float:
        """Length of the turn in seconds."""
        return self.end_s - self.start_s


class Diarizer(Component):
    """Finds who speaks when in a recording.

    Labels are opaque and stable within one result (``"S1"``, ``"S2"``... in order of
    first appearance); turns are sorted by start and do not overlap.
    """

    @abstractmethod
    def diarize(
        self,
        audio: AudioClip,
        *,
        num_speakers: int | None = None,
        on_event: EventCallback | None = None,
    ) -> list[SpeakerTurn]:
        """The speaker turns of ``audio``.

        Args:
            audio: The recording (the isolated voice is best).
            num_speakers: How many speakers there are, when known (None: find out).
            on_event: Receives progress events (stage ``"diarize"``).
        """


def _speaker_at(turns: Sequence[SpeakerTurn], a: float, b: float) -> str | None:
    """The speaker who talks most within ``[a, b]`` (None when nobody does)."""
    best, best_t = None, 0.0
    totals: dict[str, float] = {}
    for t in turns:
        overlap = min(b, t.end_s) - max(a, t.start_s)
        if overlap > 0:
            totals[t.speaker] = totals.get(t.speaker, 0.0) + overlap
    for speaker, total in totals.items():
        if total > best_t:
            best, best_t = speaker, total
    return best


def _split_words(seg: Segment, turns: Sequence[SpeakerTurn]) -> list[Segment]:
    groups: list[tuple[str | None, list[int]]] = []
    for i, w in enumerate(seg.words):
        who = _speaker_at(turns, w.start_s, w.end_s) or (groups[-1][0] if groups else None)
        if groups and groups[-1][0] == who:
            groups[-1][1].append(i)
        else:
            groups.append((who, [i]))
    if len(groups) <= 1:
        who = groups[0][0] if groups else _speaker_at(turns, seg.start_s, seg.end_s)
        return [replace(seg, speaker=who or seg.speaker)]
    out = []
    for who, idx in groups:
        words = tuple(seg.words[i] for i in idx)
        text = " ".join(w.text.strip() for w in words)
        out.append(
            replace(
                seg,
                start_s=words[0].start_s,
                end_s=words[-1].end_s,
                text=text,
                speaker=who or seg.speaker,
                words=words,
            )
        )
    return out


def _split_by_time(seg: Segment, turns: Sequence[SpeakerTurn]) -> list[Segment]:
    """Split a segment without word times at turn changes, sharing its text by duration."""
    inside = [t for t in turns if min(seg.end_s, t.end_s) - max(seg.start_s, t.start_s) > 0]
    merged: list[tuple[str, float, float]] = []
    for t in inside:
        a, b = max(seg.start_s, t.start_s), min(seg.end_s, t.end_s)
        if merged and merged[-1][0] == t.speaker:
            merged[-1] = (t.speaker, merged[-1][1], b)
        else:
            merged.append((t.speaker, a, b))
    if len(merged) <= 1:
        who = merged[0][0] if merged else None
        return [replace(seg, speaker=who or seg.speaker)]
    words = seg.text.split()
    total = sum(b - a for _, a, b in merged)
    out: list[Segment] = []
    used = 0
    for k, (who, a, b) in enumerate(merged):
        n = len(words) - used if k == len(merged) - 1 else round(len(words) * (b - a) / total)
        part = words[used : used + n]
        used += len(part)
        if part:
            start = seg.start_s if not out else a
            end = seg.end_s if k == len(merged) - 1 else b
            out.append(replace(seg, start_s=start, end_s=end, text=" ".join(part), speaker=who))
    return out


def label_segments(transcript: Transcript, turns: Sequence[SpeakerTurn]) -> Transcript:
    """``transcript`` with every segment labelled by its speaker, split at speaker changes.

    A segment with word times is split between words; one without is split at the
    turn boundaries, its words shared in proportion to each part's length.

    Example:
        >>> from lipdub.types import Segment, Transcript
        >>> tr = Transcript("en", (Segment(0.0, 4.0, "one two three four"),))
        >>> turns = [SpeakerTurn(0.0, 2.0, "S1"), SpeakerTurn(2.0, 4.0, "S2")]
        >>> [(s.speaker, s.text) for s in label_segments(tr, turns).segments]
        [('S1', 'one two'), ('S2', 'three four')]
    """
    segments: list[Segment] = []
    for seg in transcript.segments:
        if seg.words:
            segments.extend(_split_words(seg, turns))
        else:
            segments.extend(_split_by_time(seg, turns))
    return replace(transcript, segments=tuple(segments))
