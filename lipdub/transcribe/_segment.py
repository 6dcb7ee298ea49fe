"""Group timed words into subtitle-sized segments (shared by the transcription backends).

Speech recognisers give words with start/end times; dubbing wants segments: a sentence
or clause that a voice can re-speak in about the same time. :func:`words_to_segments`
cuts the word stream

* after a word that ends a sentence (``.``, ``!``, ``?``, ``…`` and the CJK/Arabic
  forms, optionally followed by closing quotes or brackets; common abbreviations such
  as ``"Dr."`` or ``"e.g."`` do not end a sentence: :func:`lipdub.text.ends_sentence`),
* at a pause: a gap of at least ``pause_s`` seconds between two words,
* where the speaker changes (when ``speaker_of`` is given), and
* before a segment would grow longer than ``max_segment_s``; then the cut goes at the
  best point inside the segment (after a comma-like mark, else at the widest gap),
  not blindly before the word that overflows.

Example:
    >>> from lipdub.types import Word
    >>> words = [Word(0.0, 0.4, "Hello"), Word(0.5, 0.9, "there."), Word(1.0, 1.3, "Bye.")]
    >>> [(s.start_s, s.end_s, s.text) for s in words_to_segments(words)]
    [(0.0, 0.9, 'Hello there.'), (1.0, 1.3, 'Bye.')]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from lipdub.errors import InputError
from lipdub.text import ends_sentence
from lipdub.types import Segment, Word

__all__ = ["ends_sentence", "join_words", "words_to_segments"]

_CLAUSE_END = re.compile(r"[,;:—–、，；：]+[\"'”’»)\]]*$")
# Attached to the previous word without a space when joining.
_NO_SPACE_BEFORE = re.compile(r"^[.,!?;:…%)\]}»”’。！？、，；：]+$")


def join_words(words: Sequence[Word], joiner: str = " ") -> str:
    """The words' texts joined by ``joiner``, punctuation-only tokens attached.

    Texts are stripped first, so recognisers that put the space in front of each word
    (Whisper: ``" Hello"``) join the same way as those that do not.

    Example:
        >>> join_words([Word(0, 1, " Hello"), Word(1, 2, ","), Word(2, 3, "world")])
        'Hello, world'
    """
    out = ""
    for w in words:
        t = w.text.strip()
        if not t:
            continue
        if out and not _NO_SPACE_BEFORE.match(t):
            out += joiner
        out += t
    return out


def _best_cut(words: Sequence[Word], min_head: int) -> int:
    """Index to cut ``words`` at (the cut goes before ``words[i]``), 1 <= i < len."""
    best_i, best_score = len(words) - 1, float("-inf")
    for i in range(max(1, min_head), len(words)):
        gap = max(0.0, words[i].start_s - words[i - 1].end_s)
        score = gap
        if _CLAUSE_END.search(words[i - 1].text.strip()):
            score += 1.0
        # prefer later cuts a little, so the first part is not tiny
        score += 0.01 * i / len(words)
        if score > best_score:
            best_i, best_score = i, score
    return best_i


def words_to_segments(
    words: Sequence[Word],
    *,
    max_segment_s: float = 12.0,
    pause_s: float = 0.7,
    speaker_of: Callable[[Word], str | None] | None = None,
    joiner: str = " ",
) -> list[Segment]:
    """Group timed words into segments at sentence ends, pauses and speaker changes.

    Args:
        words: Words in time order (times in seconds from the start of the audio). Words
            whose text is empty after stripping are dropped.
        max_segment_s: Longest segment in seconds (first word start to last word end).
            A single word longer than this becomes a segment on its own.
        pause_s: A silence of at least this many seconds between two words starts a
            new segment.
        speaker_of: Optional function giving a word's speaker label (e.g. from
            diarization); a change of label starts a new segment, and each segment
            carries its words' label as ``Segment.speaker``.
        joiner: Put between words in the segment text (``""`` for languages written
            without spaces, such as Japanese or Chinese).

    Returns:
        Segments in time order, each with its ``words`` and ``text`` (the words
        joined). Empty input gives an empty list.

    Raises:
        InputError: if ``max_segment_s`` or ``pause_s`` is not positive.

    Example:
        >>> ws = [Word(0.0, 0.3, "One"), Word(0.4, 0.7, "two"), Word(2.0, 2.3, "three")]
        >>> [s.text for s in words_to_segments(ws, pause_s=1.0)]
        ['One two', 'three']
    """
    if not max_segment_s > 0:
        raise InputError(f"max_segment_s must be > 0, got {max_segment_s}")
    if not pause_s > 0:
        raise InputError(f"pause_s must be > 0, got {pause_s}")
    items = sorted((w for w in words if w.text.strip()), key=lambda w: w.start_s)

    groups: list[list[Word]] = []
    current: list[Word] = []
    current_speaker: str | None = None
    for w in items:
        speaker = speaker_of(w) if speaker_of is not None else None
        if current:
            prev = current[-1]
            if (
                ends_sentence(prev.text)
                or w.start_s - prev.end_s >= pause_s
                or (speaker_of is not None and speaker != current_speaker)
            ):
                groups.append(current)
                current = []
        if current and w.end_s - current[0].start_s > max_segment_s:
            # Too long: cut at the best point, carry the rest into the next segment.
            # Cutting not earlier than a third of the way keeps both parts sensible.
            while current and w.end_s - current[0].start_s > max_segment_s:
                if len(current) == 1:
                    groups.append(current)
                    current = []
                    break
                cut = _best_cut(current, len(current) // 3)
                groups.append(current[:cut])
                current = current[cut:]
        if not current:
            current_speaker = speaker
        current.append(w)
    if current:
        groups.append(current)

    segments: list[Segment] = []
    for g in groups:
        speaker = speaker_of(g[0]) if speaker_of is not None else None
        start = g[0].start_s
        end = max(w.end_s for w in g)
        segments.append(Segment(start, end, join_words(g, joiner), speaker=speaker, words=tuple(g)))
    return segments
