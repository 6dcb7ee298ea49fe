"""Frozen value types that flow between lipdub's stages.

Everything a stage hands to the next one is one of these dataclasses, never a loose
dict: :class:`AudioClip` (samples + their rate), :class:`Word` and :class:`Segment`
(timed text), :class:`Transcript` (a language + segments), :class:`FaceBox` (a face in a
frame), :class:`VideoInfo` (what a probe learns about a file) and :class:`Voice` (a voice
a :class:`~lipdub.VoiceSynth` offers). Each validates its invariants in ``__post_init__``
and raises :class:`~lipdub.errors.InputError` naming the field. Numpy arrays inside them
are made read-only; derive new values with :func:`dataclasses.replace` or the helpers.

Units are in the field names: ``start_s`` (seconds), ``sample_rate_hz``, ``fps``.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import json
import math
import os
import re
import wave
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from lipdub._io import atomic_write_bytes, atomic_write_text, file_kind
from lipdub.errors import InputError, MediaError
from lipdub.typing import FloatArray

__all__ = [
    "AudioClip",
    "FaceBox",
    "Segment",
    "Transcript",
    "VideoInfo",
    "Voice",
    "Word",
    "check_segments_within",
]


def _readonly(array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    if array.flags.writeable:
        array = array.view()
        array.flags.writeable = False
    return array


# --------------------------------------------------------------------------- audio


@dataclass(frozen=True, slots=True)
class AudioClip:
    """Mono audio: float32 samples in [-1, 1] at a sample rate.

    Args:
        samples: ``(N,)`` float32 samples. Other float dtypes are converted; a 2-D
            ``(N, C)`` array is mixed down to mono.
        sample_rate_hz: Samples per second, > 0.

    Example:
        >>> clip = AudioClip.silence(0.5, 16000)
        >>> clip.duration_s, clip.num_samples
        (0.5, 8000)
        >>> clip.resample(8000).num_samples
        4000
    """

    samples: FloatArray
    sample_rate_hz: int

    def __post_init__(self) -> None:
        samples = np.asarray(self.samples)
        if samples.ndim == 2:
            samples = samples.mean(axis=1)
        if samples.ndim != 1:
            raise InputError(f"AudioClip.samples must be 1-D (N,), got shape {samples.shape}")
        if samples.dtype.kind == "i":
            scale = float(np.iinfo(samples.dtype.type).max) + 1.0  # type: ignore[type-var]
            samples = samples.astype(np.float32) / scale
        elif samples.dtype != np.float32:
            samples = samples.astype(np.float32)
        if not isinstance(self.sample_rate_hz, (int, np.integer)) or self.sample_rate_hz <= 0:
            raise InputError(
                f"AudioClip.sample_rate_hz must be a positive int, got {self.sample_rate_hz!r}"
            )
        object.__setattr__(self, "sample_rate_hz", int(self.sample_rate_hz))
        object.__setattr__(self, "samples", _readonly(samples))

    @property
    def num_samples(self) -> int:
        """Number of samples."""
        return int(self.samples.shape[0])

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self.num_samples / self.sample_rate_hz

    @classmethod
    def silence(cls, duration_s: float, sample_rate_hz: int) -> AudioClip:
        """A clip of zeros ``duration_s`` long (rounded to whole samples)."""
        if duration_s < 0:
            raise InputError(f"silence duration_s must be >= 0, got {duration_s}")
        return cls(np.zeros(round(duration_s * sample_rate_hz), np.float32), sample_rate_hz)

    @classmethod
    def concatenate(cls, clips: Sequence[AudioClip]) -> AudioClip:
        """Join clips end to end; all must share one sample rate."""
        if not clips:
            raise InputError("AudioClip.concatenate needs at least one clip")
        rates = {c.sample_rate_hz for c in clips}
        if len(rates) != 1:
            raise InputError(
                f"cannot concatenate clips with different sample rates {sorted(rates)}"
            )
        return cls(np.concatenate([c.samples for c in clips]), clips[0].sample_rate_hz)

    def resample(self, sample_rate_hz: int) -> AudioClip:
        """This clip at another rate (polyphase filter; keeps the duration)."""
        if sample_rate_hz == self.sample_rate_hz:
            return self
        from scipy.signal import resample_poly

        g = math.gcd(int(sample_rate_hz), self.sample_rate_hz)
        out = resample_poly(self.samples, sample_rate_hz // g, self.sample_rate_hz // g)
        return AudioClip(out.astype(np.float32), sample_rate_hz)

    def slice(self, start_s: float, end_s: float | None = None) -> AudioClip:
        """The part between ``start_s`` and ``end_s`` (clamped to the clip)."""
        a = max(0, round(start_s * self.sample_rate_hz))
        b = self.num_samples if end_s is None else max(a, round(end_s * self.sample_rate_hz))
        return AudioClip(self.samples[a:b], self.sample_rate_hz)

    def pad_to(self, duration_s: float) -> AudioClip:
        """This clip padded with silence (or cut) to exactly ``duration_s``."""
        n = round(duration_s * self.sample_rate_hz)
        if n <= self.num_samples:
            return AudioClip(self.samples[:n], self.sample_rate_hz)
        out = np.zeros(n, np.float32)
        out[: self.num_samples] = self.samples
        return AudioClip(out, self.sample_rate_hz)

    def rms(self) -> float:
        """Root-mean-square level (0 for an empty clip)."""
        if self.num_samples == 0:
            return 0.0
        return float(np.sqrt(np.mean(np.square(self.samples, dtype=np.float64))))

    def to_int16(self) -> npt.NDArray[np.int16]:
        """Samples as 16-bit PCM (clipped to the int16 range)."""
        return np.clip(np.round(self.samples * 32767.0), -32768, 32767).astype(np.int16)

    def to_wav_bytes(self) -> bytes:
        """A complete 16-bit PCM mono WAV file in memory."""
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(self.sample_rate_hz)
            w.writeframes(self.to_int16().tobytes())
        return buf.getvalue()

    def save_wav(self, path: str | os.PathLike[str]) -> Path:
        """Write a 16-bit PCM WAV atomically (temporary file + rename). Returns the path."""
        return atomic_write_bytes(path, self.to_wav_bytes())

    @classmethod
    def from_wav_bytes(cls, data: bytes, *, source: str = "<bytes>") -> AudioClip:
        """Decode a PCM WAV (8/16/32-bit int or 32-bit float, any channel count)."""
        from scipy.io import wavfile

        try:
            rate, samples = wavfile.read(io.BytesIO(data))
        except Exception as e:  # scipy raises ValueError/EOFError variants
            raise MediaError(f"not a readable WAV file: {e}", path=source) from e
        from lipdub.limits import Limits

        lim = Limits.from_env()
        if not lim.min_sample_rate_hz <= int(rate) <= lim.max_sample_rate_hz:
            raise MediaError(
                f"the WAV declares a sample rate of {int(rate)} Hz, outside the accepted "
                f"{lim.min_sample_rate_hz}-{lim.max_sample_rate_hz} Hz",
                path=source,
                hint="re-export it at 16000-48000 Hz (limits: see lipdub.limits)",
            )
        samples = np.asarray(samples)
        if samples.dtype == np.uint8:
            samples = (samples.astype(np.float32) - 128.0) / 128.0
        return cls(samples, int(rate))

    @classmethod
    def load_wav(cls, path: str | os.PathLike[str]) -> AudioClip:
        """Read a WAV file written by :meth:`save_wav` (or any PCM WAV).

        For other formats (mp3, m4a, flac, a video's audio track) use
        :func:`lipdub.media.load_audio`.
        """
        p = Path(path)
        kind = file_kind(p)
        if kind is not None:
            raise MediaError(f"cannot read audio file: it is {kind}", path=p)
        try:
            data = p.read_bytes()
        except OSError as e:
            raise MediaError(f"cannot read audio file: {e.strerror}", path=p) from e
        return cls.from_wav_bytes(data, source=str(p))


# --------------------------------------------------------------------------- text


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


_TS = r"(\d+):(\d{2}):(\d{2})[,.](\d{3})"
_CUE = re.compile(_TS + r"\s*-->\s*" + _TS)


_LANGUAGE_TAG = re.compile(r"[A-Za-z0-9]{1,8}(?:[-_][A-Za-z0-9]{1,8})*")


def _format_ts(seconds: float, sep: str) -> str:
    ms = max(0, round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _parse_ts(h: str, m: str, s: str, ms: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


#: Largest transcript file read (a real one is a few hundred kB).
_MAX_TEXT_FILE_BYTES = 64 << 20


def _encoding_guess(data: bytes) -> str | None:
    """A likely name for a non-UTF-8 text encoding, from a BOM or NUL-byte pattern."""
    boms = (
        (b"\xff\xfe\x00\x00", "UTF-32"),
        (b"\x00\x00\xfe\xff", "UTF-32"),
        (b"\xff\xfe", "UTF-16"),
        (b"\xfe\xff", "UTF-16"),
    )
    for bom, name in boms:
        if data.startswith(bom):
            return name
    head = data[:64]
    if len(head) >= 4 and head.count(0) >= len(head) // 4:
        return "UTF-16 or UTF-32"
    return None


def _read_text_file(p: Path, what: str) -> str:
    """UTF-8 text of ``p`` (BOM allowed), or one :class:`InputError` saying why not."""
    kind = file_kind(p)
    if kind == "missing":
        raise InputError(f"{what} file not found", path=p, hint="check the path")
    if kind is not None:
        raise InputError(f"cannot read the {what}: it is {kind}", path=p)
    try:
        size = p.stat().st_size
        if size > _MAX_TEXT_FILE_BYTES:
            raise InputError(
                f"the {what} file is {size >> 20} MiB; a {what} is at most "
                f"{_MAX_TEXT_FILE_BYTES >> 20} MiB",
                path=p,
            )
        data = p.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read the {what}: {e.strerror}", path=p) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        guess = _encoding_guess(data)
        seen = f" (it looks like {guess})" if guess else ""
        raise InputError(
            f"the {what} is not UTF-8 text{seen}: undecodable byte 0x{data[e.start]:02x} "
            f"at offset {e.start}",
            path=p,
            hint="save it again as UTF-8",
        ) from None


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
        """SubRip text, one cue per segment (speaker labels are not written)."""
        blocks = []
        for i, s in enumerate(self.segments, 1):
            ts = f"{_format_ts(s.start_s, ',')} --> {_format_ts(s.end_s, ',')}"
            blocks.append(f"{i}\n{ts}\n{s.text.strip()}\n")
        return "\n".join(blocks)

    def to_vtt(self) -> str:
        """WebVTT text, one cue per segment; a speaker becomes a ``<v>`` voice tag."""
        out = ["WEBVTT", ""]
        for s in self.segments:
            out.append(f"{_format_ts(s.start_s, '.')} --> {_format_ts(s.end_s, '.')}")
            text = s.text.strip()
            out.append(f"<v {s.speaker}>{text}" if s.speaker else text)
            out.append("")
        return "\n".join(out)

    @classmethod
    def from_srt(cls, text: str, language: str) -> Transcript:
        """Parse SubRip or WebVTT cues into segments (multi-line cues are joined)."""
        segments: list[Segment] = []
        for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()):
            lines = [ln for ln in block.split("\n") if ln.strip()]
            for k, line in enumerate(lines):
                m = _CUE.search(line)
                if m:
                    body = " ".join(lines[k + 1 :]).strip()
                    speaker = None
                    v = re.match(r"<v\s+([^>]+)>(.*)", body)
                    if v:
                        speaker, body = v.group(1).strip(), v.group(2).strip()
                    start = _parse_ts(*m.groups()[:4])
                    end = _parse_ts(*m.groups()[4:])
                    segments.append(Segment(start, end, body, speaker=speaker))
                    break
        return cls(language, tuple(sorted(segments, key=lambda s: s.start_s)))

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
        """Read a ``.json``, ``.srt`` or ``.vtt`` transcript.

        For subtitle files ``language`` is required unless the name carries it as a
        second suffix (``talk.es.srt``).
        """
        p = Path(path)
        text = _read_text_file(p, "transcript")
        suffix = p.suffix.lower()
        try:
            if suffix == ".json":
                t = cls.from_json(text)
                return dataclasses.replace(t, language=language) if language else t
            if suffix in (".srt", ".vtt"):
                lang = language or (Path(p.stem).suffix.lstrip(".") or None)
                if not lang:
                    raise InputError(
                        "subtitle files carry no language: pass language= "
                        "or name the file like talk.es.srt",
                        path=p,
                    )
                return cls.from_srt(text, lang)
        except InputError as e:
            if e.path is None:
                raise InputError(e.message, path=p, hint=e.hint) from e
            raise
        raise InputError(f"unknown transcript format {suffix!r}; use .json, .srt or .vtt", path=p)


# --------------------------------------------------------------------------- faces


@dataclass(frozen=True, slots=True)
class FaceBox:
    """A face in a frame: corners in pixels (x right, y down), a score, optional landmarks.

    ``landmarks`` are ``((x, y), ...)`` points in frame pixels; detectors that give the
    5-point set use the order left eye, right eye, nose, left mouth corner, right mouth
    corner.

    Example:
        >>> b = FaceBox(10, 20, 110, 140, score=0.9)
        >>> b.width, b.height, b.center
        (100.0, 120.0, (60.0, 80.0))
        >>> b.iou(b)
        1.0
    """

    x1: float
    y1: float
    x2: float
    y2: float
    score: float = 1.0
    landmarks: tuple[tuple[float, float], ...] | None = None

    def __post_init__(self) -> None:
        for name in ("x1", "y1", "x2", "y2", "score"):
            value = float(getattr(self, name))
            if not math.isfinite(value):
                raise InputError(f"FaceBox.{name} must be finite, got {value}")
            object.__setattr__(self, name, value)
        if self.x2 <= self.x1 or self.y2 <= self.y1:
            raise InputError(
                "FaceBox needs x2 > x1 and y2 > y1, got "
                f"({self.x1}, {self.y1}, {self.x2}, {self.y2})"
            )
        if self.landmarks is not None:
            pts = tuple((float(x), float(y)) for x, y in self.landmarks)
            object.__setattr__(self, "landmarks", pts)

    @property
    def width(self) -> float:
        """``x2 - x1`` in pixels."""
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        """``y2 - y1`` in pixels."""
        return self.y2 - self.y1

    @property
    def area(self) -> float:
        """Width times height in square pixels."""
        return self.width * self.height

    @property
    def center(self) -> tuple[float, float]:
        """Centre point ``(x, y)``."""
        return ((self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2)

    def as_tuple(self) -> tuple[float, float, float, float]:
        """``(x1, y1, x2, y2)``."""
        return (self.x1, self.y1, self.x2, self.y2)

    def iou(self, other: FaceBox) -> float:
        """Intersection over union with another box (0 to 1)."""
        ix = max(0.0, min(self.x2, other.x2) - max(self.x1, other.x1))
        iy = max(0.0, min(self.y2, other.y2) - max(self.y1, other.y1))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def scaled(self, factor: float) -> FaceBox:
        """Coordinates (and landmarks) multiplied by ``factor`` (e.g. to undo a downscale)."""
        lm = None
        if self.landmarks is not None:
            lm = tuple((x * factor, y * factor) for x, y in self.landmarks)
        return FaceBox(
            self.x1 * factor, self.y1 * factor, self.x2 * factor, self.y2 * factor, self.score, lm
        )

    def padded(
        self, top: float = 0, bottom: float = 0, left: float = 0, right: float = 0
    ) -> FaceBox:
        """Grown by the given pixels on each side (negative values shrink)."""
        return dataclasses.replace(
            self, x1=self.x1 - left, y1=self.y1 - top, x2=self.x2 + right, y2=self.y2 + bottom
        )

    def clipped(self, width: int, height: int) -> FaceBox:
        """Clamped to a ``width`` x ``height`` frame.

        Raises:
            InputError: if nothing of the box is inside the frame.
        """
        return dataclasses.replace(
            self,
            x1=min(max(self.x1, 0.0), width - 1.0),
            y1=min(max(self.y1, 0.0), height - 1.0),
            x2=min(max(self.x2, 1.0), float(width)),
            y2=min(max(self.y2, 1.0), float(height)),
        )

    def to_int(self) -> tuple[int, int, int, int]:
        """Integer pixel corners ``(x1, y1, x2, y2)`` (floor of the start, ceil of the end)."""
        return (
            math.floor(self.x1),
            math.floor(self.y1),
            max(math.ceil(self.x2), math.floor(self.x1) + 1),
            max(math.ceil(self.y2), math.floor(self.y1) + 1),
        )


# --------------------------------------------------------------------------- video


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """What :func:`lipdub.media.probe` learns about a video (or still image) file.

    ``fps`` is exact (``Fraction(30000, 1001)`` for 29.97). ``rotation`` is the
    display rotation in degrees (0, 90, 180, 270) that lipdub applies when it decodes,
    so ``width``/``height`` are the size of the frames you get (after rotation).
    ``is_image`` marks a still picture: it has one frame and no duration of its own.

    Example:
        >>> info = VideoInfo("a.mp4", Fraction(25), 640, 360, 250, 10.0)
        >>> info.frame_duration_s
        0.04
    """

    path: str
    fps: Fraction
    width: int
    height: int
    frame_count: int
    duration_s: float
    rotation: int = 0
    has_audio: bool = False
    audio_sample_rate_hz: int | None = None
    codec: str | None = None
    is_image: bool = False
    variable_frame_rate: bool = False

    def __post_init__(self) -> None:
        fps = Fraction(self.fps).limit_denominator(1_000_000)
        if fps <= 0:
            raise InputError(f"VideoInfo.fps must be > 0, got {self.fps}")
        object.__setattr__(self, "fps", fps)
        if self.width <= 0 or self.height <= 0:
            raise InputError(f"VideoInfo size must be positive, got {self.width}x{self.height}")
        if self.rotation % 90 != 0:
            raise InputError(f"VideoInfo.rotation must be a multiple of 90, got {self.rotation}")
        object.__setattr__(self, "rotation", self.rotation % 360)

    @property
    def frame_duration_s(self) -> float:
        """Seconds per frame."""
        return float(1 / self.fps)

    def describe(self) -> str:
        """A human-readable multi-line summary (what ``lipdub probe`` prints)."""
        kind = "image" if self.is_image else "video"
        lines = [
            f"file:       {self.path}",
            f"kind:       {kind}" + (f" ({self.codec})" if self.codec else ""),
            f"size:       {self.width}x{self.height}",
        ]
        if not self.is_image:
            vfr = " (variable; resampled to this rate)" if self.variable_frame_rate else ""
            lines += [
                f"fps:        {float(self.fps):.3f} ({self.fps}){vfr}",
                f"frames:     {self.frame_count}",
                f"duration:   {self.duration_s:.3f} s",
                f"rotation:   {self.rotation}",
            ]
        audio = f"yes ({self.audio_sample_rate_hz} Hz)" if self.has_audio else "no"
        lines.append(f"audio:      {audio}")
        return "\n".join(lines)


# --------------------------------------------------------------------------- voices

Gender = Literal["female", "male", "neutral", "unknown"]


@dataclass(frozen=True, slots=True)
class Voice:
    """A voice a :class:`~lipdub.VoiceSynth` can speak with.

    Example:
        >>> v = Voice("es-ES-Neural2-A", ("es-ES",), "female", 24000, "Neural2", "google")
        >>> v.supports("es")
        True
    """

    name: str
    language_codes: tuple[str, ...]
    gender: Gender = "unknown"
    natural_sample_rate_hz: int | None = None
    family: str | None = None
    backend: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not self.name:
            raise InputError("Voice.name must not be empty")
        if not isinstance(self.language_codes, tuple):
            object.__setattr__(self, "language_codes", tuple(self.language_codes))

    def supports(self, language: str | None) -> bool:
        """Whether the voice speaks ``language``.

        ``"es"`` matches ``"es-ES"`` and the reverse; None matches every voice.
        """
        if language is None:
            return True
        want = language.lower()
        for code in self.language_codes:
            have = code.lower()
            if have == want or have.split("-")[0] == want or want.split("-")[0] == have:
                return True
        return False


def iter_chunks(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    """Yield lists of at most ``size`` items (a small helper the backends share)."""
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
