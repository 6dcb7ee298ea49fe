"""``faces.json``: which face is lip-synced in each speech span of the source (editable).

Format::

    {
      "format": "lipdub.faces", "version": 1,
      "mode": "active",            # how lipdub chose: active | largest | fixed
      "faces": [{"id": 0, "first_s": 0.0, "last_s": 2.96, "frames_seen": 75,
                 "box": [42.0, 30.0, 118.0, 130.0]}, ...],
      "speakers": {"S1": 0, "S2": 1},   # when the speakers were diarized
      "spans": [{"start_s": 0.3, "end_s": 1.3, "face": 0, "speaker": "S1",
                 "scores": {"0": 0.91, "1": 0.02}}, ...]
    }

A person edits ``face`` of a span (a face id from ``faces``, or null for "whatever the
face track follows"); the spans (sorted, not overlapping, inside the video) may be
moved, split or joined too. ``faces``, ``speakers``, ``scores`` and ``mode`` are for
reading: lipdub writes them and ignores them when it reads the file.

Each frame of the video belongs to the last span starting at or before it (the
dubbed speech of a line never starts before its source line, and may run past its
end), frames before the first span to the first span; its box is the span's face
there (:func:`lipsync_track`).

How the face of a span is chosen lives in :mod:`lipdub.faces.select` (re-exported
here); this module is the file.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lipdub._io import atomic_write_text
from lipdub._userfiles import read_json_file
from lipdub.errors import InputError
from lipdub.faces.select import (
    MIN_PRESENCE,
    FaceLinks,
    SpanFace,
    candidates,
    choose_span_faces,
    describe_ids,
    lipsync_track,
)

__all__ = [
    "MIN_PRESENCE",
    "FaceMap",
    "SpanFace",
    "candidates",
    "choose_span_faces",
    "describe_ids",
    "lipsync_track",
]

#: Largest ``faces.json`` read (a real one is a few kB: one line per span).
_MAX_FILE_BYTES = 16 << 20


@dataclass(frozen=True)
class FaceMap:
    """The contents of ``faces.json`` (see the module doc).

    Example:
        >>> m = FaceMap("largest", [], {}, (SpanFace(0.0, 1.0, 0),))
        >>> FaceMap.from_dict(m.to_dict()).spans[0].face
        0
    """

    mode: str
    faces: list[dict[str, Any]]
    speakers: dict[str, int | None]
    spans: tuple[SpanFace, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""

        def num(v: float | None) -> float | None:
            return None if v is None or not math.isfinite(v) else round(v, 4)

        spans = []
        for s in self.spans:
            row: dict[str, Any] = {"start_s": s.start_s, "end_s": s.end_s, "face": s.face}
            if s.speaker is not None:
                row["speaker"] = s.speaker
            row["scores"] = {str(k): num(v) for k, v in s.scores.items()}
            spans.append(row)
        out: dict[str, Any] = {"format": "lipdub.faces", "version": 1, "mode": self.mode}
        out["faces"] = self.faces
        if self.speakers:
            out["speakers"] = self.speakers
        out["spans"] = spans
        return out

    @classmethod
    def from_dict(
        cls, data: Any, *, source: str = "faces.json", duration_s: float | None = None
    ) -> FaceMap:
        """Parse and check a (possibly hand-edited) ``faces.json``.

        Raises:
            InputError: one line naming the file and the first problem.
        """
        hint = "fix the file, or regenerate it with --redo faces"

        def bad(what: str) -> InputError:
            return InputError(f"{source}: {what}", path=source, hint=hint)

        if not isinstance(data, dict) or not isinstance(data.get("spans"), list):
            raise bad("must be an object with a 'spans' list")
        spans: list[SpanFace] = []
        for i, row in enumerate(data["spans"]):
            where = f"span {i + 1}"
            if not isinstance(row, dict):
                raise bad(f"{where} must be an object with start_s, end_s and face")
            times = []
            for name in ("start_s", "end_s"):
                v = row.get(name)
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    raise bad(f"{where}: {name} must be a number of seconds, got {v!r}")
                times.append(float(v))
            start, end = times
            if start < 0 or end <= start:
                raise bad(f"{where}: needs 0 <= start_s < end_s, got {start} to {end}")
            if duration_s is not None and start >= duration_s:
                raise bad(f"{where} starts at {start} s, after the video ends ({duration_s:.2f} s)")
            if spans and start < spans[-1].end_s - 1e-6:
                raise bad(
                    f"{where} ({start} s) overlaps or precedes span {i} (ends {spans[-1].end_s} s)"
                )
            face = row.get("face")
            if face is not None and (isinstance(face, bool) or not isinstance(face, int)):
                raise bad(f"{where}: face must be a face id (an integer) or null, got {face!r}")
            if face is not None and face < 0:
                raise bad(f"{where}: face must be a face id >= 0, got {face}")
            speaker = row.get("speaker")
            if speaker is not None and not isinstance(speaker, str):
                raise bad(f"{where}: speaker must be a string or null, got {speaker!r}")
            spans.append(SpanFace(start, end, face, speaker))
        mode = data.get("mode")
        faces = data.get("faces")
        speakers = data.get("speakers")
        return cls(
            mode if isinstance(mode, str) else "edited",
            faces if isinstance(faces, list) else [],
            speakers if isinstance(speakers, dict) else {},
            tuple(spans),
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``faces.json`` atomically; returns the path."""
        return atomic_write_text(path, _one_item_a_line(self.to_dict()))

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, duration_s: float | None = None) -> FaceMap:
        """Read and check ``faces.json`` (see :meth:`from_dict`).

        Raises:
            InputError: unreadable, not UTF-8 JSON, or malformed; one line.
        """
        p = Path(path)
        data = read_json_file(
            p,
            "face map",
            max_bytes=_MAX_FILE_BYTES,
            hint="fix the file, or regenerate it with --redo faces",
        )
        return cls.from_dict(data, source=p.name, duration_s=duration_s)

    def check_ids(self, links: FaceLinks, path: Path) -> None:
        """Every span's face is one of the faces found.

        Raises:
            InputError: an unknown face id (the message lists the ids found).
        """
        for i, s in enumerate(self.spans):
            if s.face is not None and s.face not in links.faces:
                raise InputError(
                    f"{path.name}: span {i + 1} names face {s.face}, but the faces found "
                    f"are {describe_ids(links)}",
                    path=path,
                    hint="use one of those ids (or null), or --redo faces",
                )


def _one_item_a_line(data: dict[str, Any]) -> str:
    """JSON with each face and each span on a line of its own (easy to edit by hand)."""
    lines = []
    for key, value in data.items():
        if isinstance(value, list) and value:
            items = ",\n".join(f"    {json.dumps(v, ensure_ascii=False)}" for v in value)
            lines.append(f"  {json.dumps(key)}: [\n{items}\n  ]")
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"
