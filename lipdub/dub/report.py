"""The timing report of a dub: where each dubbed line was placed, how fast, and why.

Written as ``timing.<lang>.json`` in the work directory; the lip-sync and the subtitles
follow its placed spans, and a reviewer reads its statuses and warnings.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass
from pathlib import Path
from typing import Any, Literal

from lipdub._io import atomic_write_text
from lipdub.errors import InputError
from lipdub.quality.records import LineQuality

__all__ = ["LEGACY_STATUS", "SEVERITY", "LineStatus", "SegmentTiming", "TimingReport"]


LineStatus = Literal["ok", "delayed", "late", "cut", "empty"]
"""The state of one dubbed line, worst first: ``cut`` (too long for its time even at
``max_rate``: its end is cut with a short fade, or, past the end of the media, not
heard), ``late`` (starts more than ``max_delay_s`` after its source line; also what a
report of an older lipdub says for a line it spoke too fast or let overrun),
``delayed`` (starts after its source line, within ``max_delay_s``), ``ok``; ``empty``
for a line without speech."""

#: Line statuses from best to worst.
SEVERITY: tuple[LineStatus, ...] = ("ok", "delayed", "late", "cut")

#: Statuses older reports wrote, read as today's.
LEGACY_STATUS: dict[str, LineStatus] = {"hard_cap": "late", "overflow": "late"}


@dataclass(frozen=True, slots=True)
class SegmentTiming:
    """How one line's speech was fitted and placed (all times in seconds).

    Attributes:
        index: The segment's index in the transcript.
        text: What was spoken.
        start_s: Where the speech is placed (it starts there; no leading silence).
        slot_s: Length of the source segment.
        max_s: Room from ``start_s`` to the end of the line's window, where it stops
            moving other lines (:mod:`lipdub.dub.budget`).
        natural_s: Length of the speech at the voice's natural speed.
        speech_s: Placed, audible length (after any cut at the end of the media).
        rate: Native speaking rate asked of the voice (1.0: none).
        stretch: Time-stretch applied after the native rate (1.0: none).
        borrowed_s: Speech in the silences before and after the source slot.
        overflow_s: Speech past ``start_s + max_s`` (before any cut): what moves the
            next line later.
        voice: The voice that spoke it.
        speaker: The segment's speaker label.
        source_start_s: Where the source line starts.
        budget_s: The line's time budget: its window's length (what a length-aware
            translator was told; 0 when unknown).
        cut_s: Speech cut off (not heard): the line was too long for its time.
        status: The worst thing that happened to it (:data:`LineStatus`).
        warnings: Sentences for a reviewer, one per problem.
        reference: The reference clip a cloning voice spoke it in (a work-directory
            file, ``voices/S1.wav``); None when no clip was used.
        reference_sha256: That file's sha256.
        quality: What the quality stage measured of the line (None before it ran).
    """

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
    _: KW_ONLY
    source_start_s: float
    budget_s: float = 0.0
    cut_s: float = 0.0
    status: LineStatus = "ok"
    warnings: tuple[str, ...] = ()
    reference: str | None = None
    reference_sha256: str | None = None
    quality: LineQuality | None = None

    @property
    def end_s(self) -> float:
        """Where the placed speech ends."""
        return self.start_s + self.speech_s

    @property
    def delay_s(self) -> float:
        """How much later than its source line the speech starts."""
        return self.start_s - self.source_start_s

    @property
    def speed(self) -> float:
        """Total speed-up used (natural length / spoken length)."""
        spoken = self.speech_s + self.cut_s
        return self.natural_s / spoken if spoken > 0 else 1.0


@dataclass(frozen=True, slots=True)
class TimingReport:
    """Per-line timing of the dubbed speech.

    Lines never overlap. A line starts at its source start unless it borrows the
    silence before it (``delay_s`` < 0) or the line before it ran long (``delay_s`` >
    0). ``max_rate`` is the fastest speed the fit allowed (None in older reports): no
    line's ``speed`` is above it.
    """

    segments: tuple[SegmentTiming, ...]
    max_rate: float | None = None

    @property
    def overflowing(self) -> list[SegmentTiming]:
        """Lines running past where the next line could start on time (or the media end)."""
        return [s for s in self.segments if s.overflow_s > 0.0005]

    @property
    def delayed(self) -> list[SegmentTiming]:
        """Lines placed later than their source start."""
        return [s for s in self.segments if s.delay_s > 0.0005]

    @property
    def cut(self) -> list[SegmentTiming]:
        """Lines too long for their time, cut short (status ``cut``)."""
        return [s for s in self.segments if s.status == "cut"]

    @property
    def unfitted(self) -> list[SegmentTiming]:
        """Lines that did not fit the bounds: ``late`` or ``cut``."""
        return [s for s in self.segments if s.status in ("late", "cut")]

    @property
    def speech_spans(self) -> list[tuple[float, float]]:
        """``(start_s, end_s)`` of the placed speech, for the lip-syncer."""
        return [(s.start_s, s.end_s) for s in self.segments if s.speech_s > 0]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (times in seconds, rounded to 0.1 ms)."""
        rows = []
        for s in self.segments:
            row = dataclasses.asdict(s)
            row["warnings"] = list(s.warnings)
            row["end_s"] = s.end_s
            row["delay_s"] = s.delay_s
            row["speed"] = s.speed
            for k, v in row.items():
                if isinstance(v, float):
                    row[k] = round(v, 4)
            row["overflow_ms"] = round(s.overflow_s * 1000)
            row["quality"] = s.quality.to_dict() if s.quality is not None else None
            rows.append(row)
        return {
            "segments": rows,
            "overflowing": len(self.overflowing),
            "delayed": len(self.delayed),
            "cut": len(self.cut),
            "unfitted": len(self.unfitted),
            "max_rate": self.max_rate,
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the report as JSON, atomically."""
        return atomic_write_text(path, json.dumps(self.to_dict(), ensure_ascii=False, indent=2))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TimingReport:
        """Read a report written by :meth:`save` (older reports too: new fields get defaults).

        Raises:
            InputError: The file is not a timing report.
        """
        fields = {f.name for f in dataclasses.fields(SegmentTiming)}
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            rows = []
            for r in data["segments"]:
                kw = {k: v for k, v in r.items() if k in fields}
                kw.setdefault("source_start_s", kw["start_s"])
                kw["warnings"] = tuple(kw.get("warnings", ()))
                q = kw.get("quality")
                kw["quality"] = LineQuality.from_dict(q) if isinstance(q, dict) else None
                if "status" not in kw:  # before lines were placed apart: overflow overlapped
                    over = float(kw.get("overflow_s", 0.0)) > 0.0005
                    kw["status"] = "late" if over else "ok"
                kw["status"] = LEGACY_STATUS.get(kw["status"], kw["status"])
                rows.append(SegmentTiming(**kw))
            max_rate = data.get("max_rate")
            max_rate = None if max_rate is None else float(max_rate)
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise InputError(
                f"not a readable timing report: {e}",
                path=path,
                hint="delete it to redo the speak stage",
            ) from e
        return cls(tuple(rows), max_rate)

    def with_quality(self, records: Mapping[int, LineQuality]) -> TimingReport:
        """This report with each line's quality record (by line index) attached."""
        return dataclasses.replace(
            self,
            segments=tuple(
                dataclasses.replace(s, quality=records.get(s.index, s.quality))
                for s in self.segments
            ),
        )

    def describe(self) -> str:
        """A table: source and placed start, delay, slot, speech, speed, status per line.

        Each line's warnings follow it, indented and marked ``!``.
        """
        lines = ["  #  source  start  delay   slot  speech  speed  status    text"]
        for s in self.segments:
            speed = f"{s.speed:5.2f}x "
            lines.append(
                f"{s.index:3d} {s.source_start_s:7.2f} {s.start_s:6.2f} {s.delay_s:6.2f} "
                f"{s.slot_s:6.2f} {s.speech_s:7.2f} {speed} {s.status:9s} {s.text[:40]}"
            )
            lines.extend(f"      ! {w}" for w in s.warnings)
        return "\n".join(lines)
