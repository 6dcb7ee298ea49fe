"""Timed text: :class:`Word`, :class:`Segment` and :class:`Transcript`, with JSON, SRT
and WebVTT input/output and the checks that keep edited files honest."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lipdub._io import atomic_write_text
from lipdub._userfiles import read_text_file
from lipdub.errors import InputError

if TYPE_CHECKING:
    from lipdub.limits import Limits

__all__ = ["Segment", "Transcript", "Word", "check_segment_lengths", "check_segments_within"]


def _check_times(owner: str, start_s: float, end_s: float) -> None:
    if not (math.isfinite(start_s) and math.isfinite(end_s)):
        raise InputError(f"{owner}: start_s/end_s must be finite, got {start_s}, {end_s}")
    if start_s < 0:
        raise InputError(f"{owner}: start_s must be >= 0, got {start_s}")
    if end_s < start_s:
        raise InputError(f"{owner}: end_s ({end_s}) must be >= start_s ({start_s})")


@dataclass(frozen=True, slots=True)
class Word:
    """One word with its time span in the source audio.

    Example:
        >>> Word(0.5, 0.9, "hello").duration_s
        0.4
    """

    start_s: float
    end_s: float
    text: str
    confidence: float | None = None

    def __post_init__(self) -> None:
        _check_times(f"Word {self.text!r}", self.start_s, self.end_s)

    @property
    def duration_s(self) -> float:
        """Length in seconds (rounded to microseconds)."""
        return round(self.end_s - self.start_s, 6)


@dataclass(frozen=True, slots=True)
class Segment:
    """A span of speech: its text, time span, optional speaker label and words.

    Example:
        >>> s = Segment(1.0, 2.5, "Hello there.", speaker="A")
        >>> s.duration_s
        1.5
    """

    start_s: float
    end_s: float
    text: str
    speaker: str | None = None
    words: tuple[Word, ...] = ()

    def __post_init__(self) -> None:
        _check_times(f"Segment {self.text[:30]!r}", self.start_s, self.end_s)
        if not isinstance(self.words, tuple):
            object.__setattr__(self, "words", tuple(self.words))

    @property
    def duration_s(self) -> float:
        """Length in seconds (rounded to microseconds)."""
        return round(self.end_s - self.start_s, 6)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (words included when present)."""
        out: dict[str, Any] = {"start_s": self.start_s, "end_s": self.end_s, "text": self.text}
        if self.speaker is not None:
            out["speaker"] = self.speaker
        if self.words:
            out["words"] = [dataclasses.asdict(w) for w in self.words]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Segment:
        """Inverse of :meth:`to_dict`; every field's type is checked.

        Raises:
            InputError: A field is missing or has the wrong type; the message names it
                (``field 'text' must be a string, got null``).
        """
        if not isinstance(data, dict):
            raise InputError(f"a segment must be a JSON object, got {_json_type(data)}")
        start = _number(data, "start_s")
        end = _number(data, "end_s")
        text = data.get("text", _MISSING)
        if not isinstance(text, str):
            raise InputError(f"field 'text' must be a string, got {_json_type(text)}")
        speaker = data.get("speaker")
        if speaker is not None and not isinstance(speaker, str):
            raise InputError(f"field 'speaker' must be a string or null, got {_json_type(speaker)}")
        raw_words = data.get("words") or ()
        if not isinstance(raw_words, (list, tuple)):
            raise InputError(f"field 'words' must be a list, got {_json_type(raw_words)}")
        words = []
        for k, w in enumerate(raw_words):
            if not isinstance(w, dict):
                raise InputError(f"words[{k}] must be a JSON object, got {_json_type(w)}")
            wtext = w.get("text", _MISSING)
            if not isinstance(wtext, str):
                raise InputError(f"words[{k}].text must be a string, got {_json_type(wtext)}")
            conf = w.get("confidence")
            if conf is not None and (isinstance(conf, bool) or not isinstance(conf, (int, float))):
                raise InputError(
                    f"words[{k}].confidence must be a number or null, got {_json_type(conf)}"
                )
            words.append(
                Word(
                    _number(w, "start_s", f"words[{k}]."),
                    _number(w, "end_s", f"words[{k}]."),
                    wtext,
                    None if conf is None else float(conf),
                )
            )
        return cls(start, end, text, speaker=speaker, words=tuple(words))


_MISSING = object()


def _json_type(value: object) -> str:
    """How a JSON value reads in a message: ``null``, ``a number (3)``, ``missing``..."""
    if value is _MISSING:
        return "nothing (the field is missing)"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value[:40]!r})"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _number(data: dict[str, Any], key: str, prefix: str = "") -> float:
    value = data.get(key, _MISSING)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"field '{prefix}{key}' must be a number, got {_json_type(value)}")
    out = float(value)
    if not math.isfinite(out):
        raise InputError(f"field '{prefix}{key}' must be finite, got {value}")
    return out


def check_segments_within(
    transcript: Transcript,
    duration_s: float,
    *,
    source: str | os.PathLike[str] | None = None,
    what: str = "the media",
    tolerance_s: float | None = None,
) -> None:
    """Raise unless every segment of ``transcript`` lies within ``duration_s`` seconds.

    Call it wherever a transcript's times turn into an allocation (speech fitted to a
    video's timeline, a mix, lip-sync spans): a segment at ``start_s: 1e7`` must be an
    error naming the file, not a request for 1.75 TiB. A segment may end up to
    ``tolerance_s`` past the end (speech recognisers round ends up).

    Args:
        transcript: The transcript or translation.
        duration_s: Length of the media (or the longest timeline allowed).
        source: The transcript's file, named in the error.
        what: What ``duration_s`` is the length of, for the message.
        tolerance_s: Slack past the end (default: ``Limits.segment_tolerance_s``, 1 s).

    Raises:
        InputError: The first segment that starts or ends beyond the end, by index.

    Example:
        >>> t = Transcript("en", (Segment(0.0, 1.0, "Hi."), Segment(1e7, 1e7 + 1, "Late.")))
        >>> check_segments_within(t, 2.0, source="talk.en.json")
        Traceback (most recent call last):
        ...
        lipdub.errors.InputError: talk.en.json: segment 1 ('Late.') starts at 10000000 s, ...
    """
    from lipdub.limits import Limits

    tol = Limits.from_env().segment_tolerance_s if tolerance_s is None else tolerance_s
    for i, seg in enumerate(transcript.segments):
        if seg.start_s > duration_s or seg.end_s > duration_s + tol:
            at = (
                f"starts at {seg.start_s:.10g} s"
                if seg.start_s > duration_s
                else f"ends at {seg.end_s:.10g} s"
            )
            raise InputError(
                f"segment {i} ({seg.text[:30]!r}) {at}, beyond the end of {what} "
                f"({duration_s:.10g} s)",
                path=source,
                hint="fix the segment's start_s/end_s in the file, or delete the segment",
            )


#: Characters a line may hold per second left until the end of the media: about
#: three times the fastest comfortable speech, so only a line no voice could say in
#: time is refused.
_MAX_CHARS_PER_S = 50.0
#: A line this short is never refused for lack of time (a title at the very end).
_MIN_CHARS = 500


def check_segment_lengths(
    transcript: Transcript,
    *,
    total_s: float | None = None,
    source: str | os.PathLike[str] | None = None,
    limits: Limits | None = None,
) -> None:
    """Raise unless every segment's text is short enough for a voice to speak.

    Call it before any synthesis (or translation) of an edited or given transcript: a
    1 MB line would make the voice build hours of speech that the timing fit then
    cuts. A segment may hold at most ``limits.max_segment_chars`` characters (default
    20000, ``LIPDUB_MAX_SEGMENT_CHARS``); with ``total_s`` (the media's length), also
    at most 50 per second from its start to the end of the media (and 500 at least).

    Raises:
        InputError: the first segment too long, by index, naming ``source``.

    Example:
        >>> t = Transcript("es", (Segment(0.0, 1.0, "Hola."), Segment(1.0, 2.0, "x" * 900)))
        >>> check_segment_lengths(t, total_s=5.0, source="translation.es.json")
        Traceback (most recent call last):
        ...
        lipdub.errors.InputError: translation.es.json: segment 1 ('xxxxxxxxxxxx...') is 900 ...
    """
    from lipdub.limits import resolve

    cap = resolve(limits).max_segment_chars
    for i, seg in enumerate(transcript.segments):
        n = len(seg.text)
        if n <= _MIN_CHARS and n <= cap:
            continue
        preview = f"{seg.text[:12]}..." if n > 15 else seg.text
        if n > cap:
            raise InputError(
                f"segment {i} ({preview!r}) is {n} characters long; a segment holds at most "
                f"{cap} (about twenty minutes of speech)",
                path=source,
                hint="split it into shorter segments, or raise LIPDUB_MAX_SEGMENT_CHARS",
            )
        if total_s is not None:
            rest = max(0.0, total_s - seg.start_s)
            if n > max(_MIN_CHARS, _MAX_CHARS_PER_S * rest):
                raise InputError(
                    f"segment {i} ({preview!r}) is {n} characters long, far more than any "
                    f"voice can say in the {rest:.1f} s from its start to the end of the media",
                    path=source,
                    hint="shorten it, or spread its text over the segments after it",
                )


_TS = r"(?:(\d+):)?(\d{2}):(\d{2})[,.](\d{3})"  # WebVTT may leave the hours out
# A timing line; each time may carry a minus sign, caught to be refused (never dropped).
_CUE = re.compile(r"(-?)\s*" + _TS + r"\s*-->\s*(-?)\s*" + _TS)
# Control characters other than the line break: never written into a subtitle file.
_CUE_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
_VTT_TAG = re.compile(r"<[^>]*>")


_LANGUAGE_TAG = re.compile(r"[A-Za-z0-9]{1,8}(?:[-_][A-Za-z0-9]{1,8})*")


def _format_ts(seconds: float, sep: str) -> str:
    ms = max(0, round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _parse_ts(h: str | None, m: str, s: str, ms: str) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def _cue_lines(text: str) -> list[str]:
    r"""A cue's text as the lines a subtitle file may hold.

    Control characters (NUL, ESC, BEL...) are dropped (a tab becomes a space), and
    blank lines are removed: in SRT and WebVTT a blank line ends the cue.

    Example:
        >>> _cue_lines("Hola\x1b[31m\n\n  amigo\x00 ")
        ['Hola[31m', 'amigo']
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    lines = (_CUE_CONTROL.sub("", line).strip() for line in text.split("\n"))
    return [line for line in lines if line]


def _srt_text(text: str) -> str:
    """Cue text for SubRip: no blank line, no control character, no ``-->``."""
    return "\n".join(line.replace("-->", "->") for line in _cue_lines(text))


def _vtt_escape(text: str) -> str:
    """``&``, ``<`` and ``>`` as WebVTT character references (so no ``-->`` either)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _vtt_unescape(text: str) -> str:
    """WebVTT cue text as plain text: tags dropped, character references decoded."""
    import html

    return html.unescape(_VTT_TAG.sub("", text))


def _parse_cue(block: list[tuple[int, str]], vtt: bool) -> tuple[int, Segment] | None:
    """The segment of one SRT/VTT block (numbered lines), or None if it holds no timing."""
    for k, (number, line) in enumerate(block):
        m = _CUE.search(line)
        if not m:
            continue
        sign_a, *a = m.groups()[:5]
        sign_b, *b = m.groups()[5:]
        if sign_a or sign_b:
            raise InputError(
                f"line {number}: a negative time ({line.strip()[:60]!r})",
                hint="subtitle times start at 00:00:00,000",
            )
        body = " ".join(text for _, text in block[k + 1 :]).strip()
        speaker = None
        v = re.match(r"<v(?:\.[^\s>]*)?\s+([^>]+)>(.*)", body)
        if v:
            speaker, body = v.group(1).strip(), v.group(2).strip()
        if vtt:
            body = _vtt_unescape(body).strip()
            speaker = _vtt_unescape(speaker).strip() if speaker else None
        try:
            return number, Segment(_parse_ts(*a), _parse_ts(*b), body, speaker=speaker or None)
        except InputError as e:
            raise InputError(f"line {number}: {e.message}", hint=e.hint) from None
    return None


@dataclass(frozen=True, slots=True)
class Transcript:
    """Timed segments of speech in one language.

    ``language`` is a BCP-47 tag (``"en"``, ``"es-ES"``). Segments are kept in time
    order. Save and load as JSON (lossless, editable) or SRT/WebVTT (subtitles).

    Example:
        >>> t = Transcript("en", (Segment(0.0, 1.2, "Hello."), Segment(1.5, 3.0, "Bye.")))
        >>> print(t.to_srt())
        1
        00:00:00,000 --> 00:00:01,200
        Hello.
        <BLANKLINE>
        2
        00:00:01,500 --> 00:00:03,000
        Bye.
        <BLANKLINE>
        >>> Transcript.from_json(t.to_json()) == t
        True
    """

    language: str
    segments: tuple[Segment, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.language, str) or not _LANGUAGE_TAG.fullmatch(self.language):
            # The code names artifact files (translation.<lang>.json): never empty,
            # never a dot or a slash.
            raise InputError(
                f"Transcript.language must be a language code like 'es' or 'pt-BR', "
                f"got {self.language!r}"
            )
        segs = tuple(self.segments)
        for a, b in itertools.pairwise(segs):
            if b.start_s < a.start_s:
                raise InputError(
                    f"Transcript segments must be in time order: {b.text[:30]!r} at {b.start_s}s "
                    f"comes after {a.text[:30]!r} at {a.start_s}s"
                )
        object.__setattr__(self, "segments", segs)

    @property
    def text(self) -> str:
        """All segment texts joined by spaces."""
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())

    def __len__(self) -> int:
        return len(self.segments)

    def with_texts(self, texts: Sequence[str], language: str | None = None) -> Transcript:
        """The same timing with new texts (one per segment), e.g. a translation.

        Word timings are dropped, since they belong to the old text.
        """
        if len(texts) != len(self.segments):
            raise InputError(
                f"with_texts needs one text per segment: got {len(texts)} for "
                f"{len(self.segments)} segments"
            )
        segs = tuple(
            dataclasses.replace(s, text=t, words=())
            for s, t in zip(self.segments, texts, strict=True)
        )
        return Transcript(language or self.language, segs)

    # -- JSON
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ``{"language": ..., "segments": [...]}``."""
        return {"language": self.language, "segments": [s.to_dict() for s in self.segments]}

    def to_json(self, indent: int | None = 2) -> str:
        """JSON text (UTF-8, non-ASCII kept readable)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    def blank_segments(self) -> tuple[int, ...]:
        """Indices of the segments whose text is empty or only whitespace.

        A translation can come back empty for a segment; there is nothing to speak
        there, so the caller should skip it and say so (never dub silence unannounced).

        Example:
            >>> Transcript("es", (Segment(0, 1, "Hola."), Segment(1, 2, "  "))).blank_segments()
            (1,)
        """
        return tuple(i for i, s in enumerate(self.segments) if not s.text.strip())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transcript:
        """Inverse of :meth:`to_dict`; every field's type is checked.

        Raises:
            InputError: A key is missing or has the wrong type; the message names the
                segment index and the field (``segment 3: field 'text' must be a
                string, got null``).
        """
        if not isinstance(data, dict) or "segments" not in data or "language" not in data:
            raise InputError("a transcript needs the keys 'language' and 'segments'")
        language = data["language"]
        if not isinstance(language, str):
            raise InputError(f"field 'language' must be a string, got {_json_type(language)}")
        raw = data["segments"]
        if not isinstance(raw, list):
            raise InputError(f"field 'segments' must be a list, got {_json_type(raw)}")
        segments = []
        for i, item in enumerate(raw):
            try:
                segments.append(Segment.from_dict(item))
            except InputError as e:
                raise InputError(f"segment {i}: {e.message}", hint=e.hint) from None
        return cls(language, tuple(segments))

    @classmethod
    def from_json(cls, text: str) -> Transcript:
        """Parse JSON written by :meth:`to_json` (a leading byte-order mark is ignored)."""
        try:
            data = json.loads(text.removeprefix("\ufeff"))
        except json.JSONDecodeError as e:
            raise InputError(f"not valid transcript JSON: {e}") from None
        except RecursionError:
            raise InputError("not a transcript: the JSON is nested too deeply to be one") from None
        return cls.from_dict(data)

    # -- subtitles
    def to_srt(self) -> str:
        r"""SubRip text, one cue per segment (speaker labels are not written).

        The text is made safe for the format: control characters are dropped, blank
        lines inside a segment's text are removed (a blank line would end the cue),
        and ``-->`` becomes ``->``. A segment that overlaps the next one ends, as a
        cue, where the next one starts.

        Example:
            >>> t = Transcript("es", (Segment(0, 1, "Uno\n\n--> dos\x1b"),))
            >>> print(t.to_srt())
            1
            00:00:00,000 --> 00:00:01,000
            Uno
            -> dos
            <BLANKLINE>
        """
        blocks = []
        for i, (s, end) in enumerate(zip(self.segments, self._cue_ends(), strict=True), 1):
            ts = f"{_format_ts(s.start_s, ',')} --> {_format_ts(end, ',')}"
            blocks.append(f"{i}\n{ts}\n{_srt_text(s.text)}\n")
        return "\n".join(blocks)

    def to_vtt(self) -> str:
        r"""WebVTT text, one cue per segment; a speaker becomes a ``<v>`` voice tag.

        Text and speaker are escaped for the format (``&amp;``, ``&lt;``, ``&gt;``, so
        no ``-->`` and no tag can appear), control characters are dropped and blank
        lines inside a segment's text removed; cues never overlap, as in
        :meth:`to_srt`. :meth:`from_srt` reads them back.

        Example:
            >>> t = Transcript("es", (Segment(0, 1, "a <b> & c --> d", speaker="S1"),))
            >>> print(t.to_vtt())
            WEBVTT
            <BLANKLINE>
            00:00:00.000 --> 00:00:01.000
            <v S1>a &lt;b&gt; &amp; c --&gt; d
            <BLANKLINE>
        """
        out = ["WEBVTT", ""]
        for s, end in zip(self.segments, self._cue_ends(), strict=True):
            out.append(f"{_format_ts(s.start_s, '.')} --> {_format_ts(end, '.')}")
            text = "\n".join(_vtt_escape(line) for line in _cue_lines(s.text))
            speaker = _vtt_escape(" ".join(_cue_lines(s.speaker or "")))
            out.append(f"<v {speaker}>{text}" if speaker else text)
            out.append("")
        return "\n".join(out)

    def _cue_ends(self) -> list[float]:
        """Each segment's end as a cue: cut at the next segment's start, so a subtitle
        file lipdub writes never has overlapping cues (which :meth:`load` refuses)."""
        starts = [s.start_s for s in self.segments[1:]] + [math.inf]
        return [min(s.end_s, nxt) for s, nxt in zip(self.segments, starts, strict=True)]

    @classmethod
    def from_srt(cls, text: str, language: str, *, allow_overlap: bool = True) -> Transcript:
        """Parse SubRip or WebVTT cues into segments (multi-line cues are joined).

        WebVTT text (a file starting ``WEBVTT``) is unescaped and its tags other than
        the ``<v>`` voice are dropped.

        Args:
            text: The file's text.
            language: The language of the cues.
            allow_overlap: Accept a cue that starts before the one before it ends
                (False: refuse it, as for a file a user hands lipdub).

        Raises:
            InputError: naming the line: a negative time, an end before its start, or
                (with ``allow_overlap=False``) overlapping cues.
        """
        vtt = text.lstrip("\ufeff").startswith("WEBVTT")
        rows: list[tuple[int, Segment]] = []
        block: list[tuple[int, str]] = []
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        for number, line in enumerate([*lines, ""], 1):
            if line.strip():
                block.append((number, line))
                continue
            if block:
                row = _parse_cue(block, vtt)
                if row is not None:
                    rows.append(row)
                block = []
        rows.sort(key=lambda r: r[1].start_s)
        if not allow_overlap:
            for (_, a), (line_b, b) in itertools.pairwise(rows):
                if b.start_s < a.end_s - 0.0005:
                    raise InputError(
                        f"line {line_b}: the cue starting at {_format_ts(b.start_s, ',')} "
                        f"overlaps the one before it (which ends at {_format_ts(a.end_s, ',')})",
                        hint="make each cue end before the next one starts",
                    )
        return cls(language, tuple(seg for _, seg in rows))

    # -- files
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write to ``.json``, ``.srt`` or ``.vtt`` (by suffix) atomically."""
        p = Path(path)
        suffix = p.suffix.lower()
        if suffix == ".srt":
            text = self.to_srt()
        elif suffix == ".vtt":
            text = self.to_vtt()
        elif suffix == ".json":
            text = self.to_json() + "\n"
        else:
            raise InputError(
                f"unknown transcript format {suffix!r}; use .json, .srt or .vtt", path=p
            )
        return atomic_write_text(p, text)

    @classmethod
    def load(cls, path: str | os.PathLike[str], language: str | None = None) -> Transcript:
        """Read a ``.json``, ``.srt`` or ``.vtt`` transcript, checked as any input.

        For subtitle files ``language`` is required unless the name carries it as a
        second suffix (``talk.es.srt``); their cues must not overlap. A JSON file
        declares its own language: a given ``language`` must name the same one (its
        region may differ, and ``language`` is then used), so a French file is never
        taken for Spanish.

        Raises:
            InputError: one line naming the file (and the line of a subtitle file):
                unreadable, malformed, overlapping cues, negative times, a segment
                longer than ``Limits.max_segment_chars``, or a language other than
                ``language``.
        """
        p = Path(path)
        text = read_text_file(p, "transcript")
        suffix = p.suffix.lower()
        try:
            if suffix == ".json":
                t = cls.from_json(text)
                if language is not None:
                    _check_language(t.language, language)
                    t = dataclasses.replace(t, language=language)
                check_segment_lengths(t)
                return t
            if suffix in (".srt", ".vtt"):
                lang = language or (Path(p.stem).suffix.lstrip(".") or None)
                if not lang:
                    raise InputError(
                        "subtitle files carry no language: pass language= "
                        "or name the file like talk.es.srt",
                        path=p,
                    )
                t = cls.from_srt(text, lang, allow_overlap=False)
                check_segment_lengths(t)
                return t
        except InputError as e:
            if e.path is None:
                raise InputError(e.message, path=p, hint=e.hint) from e
            raise
        raise InputError(f"unknown transcript format {suffix!r}; use .json, .srt or .vtt", path=p)


def _check_language(declared: str, wanted: str) -> None:
    """Raise unless ``declared`` and ``wanted`` are the same language (regions aside)."""
    from lipdub.languages import base_language

    if base_language(declared) != base_language(wanted):
        raise InputError(
            f'the file declares "language": "{declared}", but {wanted!r} was asked for',
            hint=f"give a {wanted} file, or correct its language field if that is wrong",
        )
