"""The timing fit: each translated line spoken where its source line was spoken.

:func:`speak_transcript` speaks every segment of a (translated) transcript so it
starts where the source segment started and fits before the next one, and returns
the speech track with a :class:`TimingReport`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lipdub._io import atomic_write_text
from lipdub.dub.audio_ops import mix_at, time_stretch, trim_silence
from lipdub.dub.options import FitOptions
from lipdub.events import EventCallback, Progress, emit
from lipdub.types import AudioClip, Transcript
from lipdub.voice.base import VoiceSynth

__all__ = ["SegmentTiming", "TimingReport", "fit_segment", "speak_transcript"]

logger = logging.getLogger(__name__)


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
        >>> from lipdub.types import Segment
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
