"""Speech timing, mixing and subtitles: the audio side of a dub.

* :func:`speak_transcript` speaks every segment of a (translated) transcript so it
  starts where the source segment started and fits before the next one, and returns
  the speech track with a :class:`TimingReport`.
* :func:`remix` lays the new speech over the original background at matched loudness.
* :func:`subtitle_cues` turns a transcript into readable subtitle cues.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lipdub._io import atomic_write_text
from lipdub.audio_ops import integrated_loudness, limit_peak, mix_at, time_stretch, trim_silence
from lipdub.errors import InputError
from lipdub.events import EventCallback, Progress, emit
from lipdub.separate.base import Separator
from lipdub.types import AudioClip, Segment, Transcript
from lipdub.voice.base import VoiceSynth

__all__ = [
    "DubOptions",
    "FitOptions",
    "SegmentTiming",
    "TimingReport",
    "remix",
    "speak_transcript",
    "subtitle_cues",
]

logger = logging.getLogger(__name__)


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


@dataclass(frozen=True, slots=True)
class SegmentTiming:
    """How one segment's speech was fitted (all times in seconds)."""

    index: int
    text: str
    start_s: float
    slot_s: float
    max_s: float
    natural_s: float
    speech_s: float
    rate: float
    stretch: float
    borrowed_s: float
    overflow_s: float
    voice: str | None = None
    speaker: str | None = None

    @property
    def end_s(self) -> float:
        """Where the placed speech ends."""
        return self.start_s + self.speech_s

    @property
    def speed(self) -> float:
        """Total speed-up (natural length / placed length)."""
        return self.natural_s / self.speech_s if self.speech_s else 1.0


@dataclass(frozen=True, slots=True)
class TimingReport:
    """Per-segment timing of the dubbed speech.

    Every segment starts exactly at its source segment's start (speech onsets are
    aligned by trimming the voice's leading silence), so start errors are 0 ms.
    """

    segments: tuple[SegmentTiming, ...]

    @property
    def overflowing(self) -> list[SegmentTiming]:
        """Segments whose speech runs past the next segment's start."""
        return [s for s in self.segments if s.overflow_s > 0.0005]

    @property
    def speech_spans(self) -> list[tuple[float, float]]:
        """``(start_s, end_s)`` of the placed speech, for the lip-syncer."""
        return [(s.start_s, s.end_s) for s in self.segments if s.speech_s > 0]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (times in seconds, rounded to ms)."""
        rows = []
        for s in self.segments:
            row = dataclasses.asdict(s)
            for k, v in row.items():
                if isinstance(v, float):
                    row[k] = round(v, 4)
            row["overflow_ms"] = round(s.overflow_s * 1000)
            rows.append(row)
        return {"segments": rows, "overflowing": len(self.overflowing)}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the report as JSON, atomically."""
        return atomic_write_text(path, json.dumps(self.to_dict(), ensure_ascii=False, indent=2))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TimingReport:
        """Read a report written by :meth:`save`."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        fields = {f.name for f in dataclasses.fields(SegmentTiming)}
        return cls(
            tuple(
                SegmentTiming(**{k: v for k, v in r.items() if k in fields})
                for r in data["segments"]
            )
        )

    def describe(self) -> str:
        """A table: slot, speech length, rate, stretch, overflow per segment."""
        lines = ["  #  start   slot  speech  rate  stretch  overflow  text"]
        for s in self.segments:
            lines.append(
                f"{s.index:3d} {s.start_s:6.2f} {s.slot_s:6.2f} {s.speech_s:7.2f} "
                f"{s.rate:5.2f} {s.stretch:8.2f} {s.overflow_s * 1000:7.0f}ms  {s.text[:40]}"
            )
        return "\n".join(lines)


SegmentCache = Callable[[str, Callable[[], AudioClip]], AudioClip]
"""``cache(key, make)`` returns a stored clip for ``key`` or stores ``make()``."""


def _no_cache(key: str, make: Callable[[], AudioClip]) -> AudioClip:
    return make()


def _clean(clip: AudioClip, options: FitOptions) -> AudioClip:
    return trim_silence(clip) if options.trim_silence else clip


def fit_segment(
    synth: VoiceSynth,
    text: str,
    *,
    slot_s: float,
    max_s: float,
    voice: str | None,
    language: str | None,
    options: FitOptions,
    cache: SegmentCache = _no_cache,
) -> tuple[AudioClip, dict[str, float]]:
    """Speak ``text`` fitted to ``slot_s`` seconds (``max_s`` with the borrowed gap).

    Returns:
        The fitted clip and the numbers for its :class:`SegmentTiming`.
    """
    base_key = hashlib.sha256(json.dumps([synth.name, text, voice, language]).encode()).hexdigest()[
        :16
    ]

    def say(rate: float) -> AudioClip:
        return cache(
            f"{base_key}-r{rate:.3f}",
            lambda: _clean(
                synth.synthesize(text, voice=voice, language=language, rate=rate), options
            ),
        )

    natural = say(1.0)
    nat_s = natural.duration_s
    clip, rate, stretch = natural, 1.0, 1.0
    if slot_s > 0 and nat_s > 0:
        want = min(max(nat_s / slot_s, options.min_rate), options.max_rate)
        if abs(want - 1.0) > 0.02:
            if synth.native_rate:
                rate = round(want, 3)
                clip = say(rate)
            achieved = nat_s / clip.duration_s if clip.duration_s else 1.0
            rest = clip.duration_s / slot_s
            rest = min(max(rest, options.min_rate / achieved), options.max_rate / achieved)
            if abs(rest - 1.0) > 0.01:
                stretch = rest
                clip = time_stretch(clip, rest)
    speech_s = clip.duration_s
    limit = max_s if options.borrow_gap else slot_s
    borrowed = min(max(0.0, speech_s - slot_s), max(0.0, limit - slot_s))
    overflow = max(0.0, speech_s - limit)
    return clip, {
        "natural_s": nat_s,
        "speech_s": speech_s,
        "rate": rate,
        "stretch": stretch,
        "borrowed_s": borrowed,
        "overflow_s": overflow,
    }


def speak_transcript(
    synth: VoiceSynth,
    transcript: Transcript,
    *,
    voice: str | None = None,
    voice_map: Mapping[str, str] | None = None,
    total_s: float | None = None,
    sample_rate_hz: int | None = None,
    options: FitOptions | None = None,
    cache: SegmentCache | None = None,
    on_event: EventCallback | None = None,
) -> tuple[AudioClip, TimingReport]:
    """Speak every segment at its time and return the speech track and timing report.

    Args:
        synth: The voice backend.
        transcript: Segments to speak (usually a translation); ``language`` is passed
            to the voice.
        voice: Default voice name (None: the backend's default for the language).
        voice_map: Speaker label -> voice, for segments that carry a speaker.
        total_s: Length of the track (default: the end of the last speech).
        sample_rate_hz: Rate of the track (default: the voice's native rate).
        options: Timing-fit bounds.
        cache: Optional per-utterance cache (the pipeline keeps WAVs in its workdir).
        on_event: Progress callback (stage ``"speak"``, unit ``"segments"``).

    Example:
        >>> from lipdub.testing import FakeVoiceSynth
        >>> t = Transcript("es", (Segment(0.5, 1.1, "uno dos"), Segment(2.0, 2.6, "tres")))
        >>> track, report = speak_transcript(FakeVoiceSynth(), t, total_s=3.0)
        >>> round(track.duration_s, 2), [s.start_s for s in report.segments]
        (3.0, [0.5, 2.0])
    """
    options = options or FitOptions()
    voice_map = voice_map or {}
    segs = transcript.segments
    clips: list[AudioClip] = []
    rows: list[SegmentTiming] = []
    for i, seg in enumerate(segs):
        next_start = segs[i + 1].start_s if i + 1 < len(segs) else (total_s or float("inf"))
        slot = max(seg.end_s - seg.start_s, 0.0)
        max_s = max(next_start - seg.start_s, slot)
        v = voice_map.get(seg.speaker, voice) if seg.speaker else voice
        if not seg.text.strip():
            clip = AudioClip.silence(0, sample_rate_hz or 16000)
            nums = dict(
                natural_s=0.0, speech_s=0.0, rate=1.0, stretch=1.0, borrowed_s=0.0, overflow_s=0.0
            )
        else:
            clip, nums = fit_segment(
                synth,
                seg.text,
                slot_s=slot,
                max_s=max_s,
                voice=v,
                language=transcript.language,
                options=options,
                cache=cache or _no_cache,
            )
        clips.append(clip)
        rows.append(
            SegmentTiming(
                i, seg.text, seg.start_s, slot, max_s, voice=v, speaker=seg.speaker, **nums
            )
        )
        emit(on_event, Progress("speak", i + 1, len(segs), "segments"))
    rate = sample_rate_hz or next((c.sample_rate_hz for c in clips if c.num_samples), 24000)
    end = max((r.end_s for r in rows), default=0.0)
    track = AudioClip.silence(max(total_s or 0.0, end), rate)
    for row, clip in zip(rows, clips, strict=True):
        if clip.num_samples:
            track = mix_at(track, clip.resample(rate), row.start_s)
    if total_s is not None:
        track = track.pad_to(total_s)
    report = TimingReport(tuple(rows))
    for s in report.overflowing:
        logger.warning(
            "segment %d overflows its slot by %.0f ms: %r",
            s.index,
            s.overflow_s * 1000,
            s.text[:40],
        )
    return track, report


def remix(
    speech: AudioClip,
    original: AudioClip | None,
    *,
    source_speech_spans: Sequence[tuple[float, float]] = (),
    separator: Separator | None = None,
    keep_background: bool = True,
) -> AudioClip:
    """The dubbed soundtrack: new ``speech`` over the original's background.

    The speech is scaled to the loudness (LUFS) of the original speech, the background
    comes from ``separator`` (the original voice removed or ducked during
    ``source_speech_spans``), and the sum is peak-limited so it never clips. Without
    an original (a still image) or with ``keep_background=False`` the speech alone is
    returned, loudness-normalised to -16 LUFS.
    """
    rate = speech.sample_rate_hz
    target_lufs = -16.0
    if original is not None:
        original = original.resample(rate)
        voiced = [original.slice(a, b).samples for a, b in source_speech_spans]
        ref = AudioClip(np.concatenate(voiced), rate) if voiced else original
        lufs = integrated_loudness(ref)
        if np.isfinite(lufs):
            target_lufs = min(max(lufs, -30.0), -10.0)
    speech_lufs = integrated_loudness(speech)
    gain = 10 ** ((target_lufs - speech_lufs) / 20) if np.isfinite(speech_lufs) else 1.0
    out = AudioClip(speech.samples * np.float32(gain), rate)
    if original is not None and keep_background and separator is not None:
        background = separator.separate(original, source_speech_spans).background
        background = background.pad_to(out.duration_s)
        out = mix_at(out.pad_to(max(out.duration_s, background.duration_s)), background, 0.0)
    return limit_peak(out)


def subtitle_cues(
    transcript: Transcript,
    timing: TimingReport | None = None,
    *,
    max_chars_per_line: int = 42,
    max_lines: int = 2,
    min_cue_s: float = 0.8,
) -> Transcript:
    """Readable subtitle cues: wrapped lines, long segments split, timed to the speech.

    With ``timing``, cues follow the dubbed speech (start, start + speech length);
    otherwise the segment times. A segment longer than ``max_lines`` lines is split
    into several cues whose durations follow their share of the characters.
    """
    cues: list[Segment] = []
    for i, seg in enumerate(transcript.segments):
        text = " ".join(seg.text.split())
        if not text:
            continue
        start, end = seg.start_s, seg.end_s
        if timing is not None and i < len(timing.segments) and timing.segments[i].speech_s > 0:
            start, end = timing.segments[i].start_s, timing.segments[i].end_s
        end = max(end, start + min_cue_s)
        lines = textwrap.wrap(text, max_chars_per_line) or [text]
        groups = [lines[k : k + max_lines] for k in range(0, len(lines), max_lines)]
        total = sum(len(" ".join(g)) for g in groups)
        t = start
        for g in groups:
            share = len(" ".join(g)) / total if total else 1.0
            t_end = end if g is groups[-1] else t + (end - start) * share
            cues.append(Segment(round(t, 3), round(t_end, 3), "\n".join(g), speaker=seg.speaker))
            t = t_end
    return Transcript(transcript.language, tuple(cues))
