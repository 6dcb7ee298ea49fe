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
"""

from __future__ import annotations

import bisect
import json
import math
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lipdub._io import atomic_write_text
from lipdub.errors import InputError
from lipdub.eval.faces import FaceLinks
from lipdub.faces.track import FaceTrack
from lipdub.types import FaceBox

__all__ = ["FaceMap", "SpanFace", "choose_span_faces", "lipsync_track"]

#: Largest ``faces.json`` read (a real one is a few kB: one line per span).
_MAX_FILE_BYTES = 16 << 20
#: A face must be seen in this share of a span's frames to be chosen for it.
MIN_PRESENCE = 0.5
_SAME_FACE_IOU = 0.3


@dataclass(frozen=True, slots=True)
class SpanFace:
    """One source speech span and the face lip-synced in it (None: the face track's)."""

    start_s: float
    end_s: float
    face: int | None
    speaker: str | None = None
    scores: dict[int, float | None] = field(default_factory=dict)


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
        try:
            size = p.stat().st_size
            if size > _MAX_FILE_BYTES:
                raise InputError(
                    f"{p.name} is {size >> 20} MiB; a face map is at most "
                    f"{_MAX_FILE_BYTES >> 20} MiB",
                    path=p,
                    hint="fix the file, or regenerate it with --redo faces",
                )
            data = json.loads(p.read_text(encoding="utf-8"))
        except InputError:
            raise
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
            what = e.strerror if isinstance(e, OSError) else str(e).splitlines()[0]
            raise InputError(
                f"{p.name} is not readable JSON: {what}",
                path=p,
                hint="fix the file, or regenerate it with --redo faces",
            ) from e
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


def describe_ids(links: FaceLinks) -> str:
    """``0 (box 42,30-118,130), 1 (...)`` or ``none``."""
    parts = []
    for fid in links.ids:
        box = links.summary(fid).get("box")
        where = f" (box {box[0]:.0f},{box[1]:.0f}-{box[2]:.0f},{box[3]:.0f})" if box else ""
        parts.append(f"{fid}{where}")
    return ", ".join(parts) or "none"


def candidates(links: FaceLinks, start_s: float, end_s: float) -> list[int]:
    """The faces seen in at least :data:`MIN_PRESENCE` of the span's frames."""
    return [f for f in links.ids if links.presence(f, start_s, end_s) >= MIN_PRESENCE]


def choose_span_faces(
    links: FaceLinks,
    spans: Sequence[tuple[float, float, str | None]],
    *,
    mode: str,
    fixed: int | None = None,
    scores: Sequence[dict[int, float | None]] | None = None,
) -> tuple[list[SpanFace], dict[str, int | None]]:
    """The face of each span, and each diarized speaker's face.

    ``mode``: ``"fixed"`` (face ``fixed`` everywhere), ``"largest"`` (the largest
    candidate), ``"active"`` (the best of ``scores``; the largest where no candidate
    could be scored). With speaker labels, each speaker gets the face that won most of
    their spans (ties: the higher total score, then the lower id), and every span of
    that speaker where the face is seen takes it.
    """
    chosen: list[SpanFace] = []
    for k, (start, end, speaker) in enumerate(spans):
        cands = candidates(links, start, end)
        got = dict(scores[k]) if scores is not None else {}
        if mode == "fixed":
            face: int | None = fixed
        elif mode == "active" and any(got.get(c) is not None for c in cands):
            face = max(
                (c for c in cands if got.get(c) is not None),
                key=lambda c: (got[c], -c),
            )
        else:
            face = max(cands, key=lambda c: links.mean_area(c, start, end), default=None)
        chosen.append(SpanFace(start, end, face, speaker, got))
    speakers: dict[str, int | None] = {}
    if mode == "fixed":
        speakers = {s.speaker: fixed for s in chosen if s.speaker is not None}
        return chosen, speakers
    labels = list(dict.fromkeys(s.speaker for s in chosen if s.speaker is not None))
    for label in labels:
        mine = [s for s in chosen if s.speaker == label]
        votes = Counter(s.face for s in mine if s.face is not None)
        if not votes:
            speakers[label] = None
            continue

        def total(fid: int, mine: list[SpanFace] = mine) -> float:
            return sum(v for s in mine if (v := s.scores.get(fid)) is not None)

        speakers[label] = max(votes, key=lambda f: (votes[f], total(f), -f))
    out = []
    for s in chosen:
        face = speakers.get(s.speaker) if s.speaker is not None else None
        if face is not None and face in candidates(links, s.start_s, s.end_s):
            s = SpanFace(s.start_s, s.end_s, face, s.speaker, s.scores)
        out.append(s)
    return out, speakers


def lipsync_track(
    track: FaceTrack | None, links: FaceLinks, spans: Sequence[SpanFace], num_frames: int
) -> FaceTrack | None:
    """The track the lip-sync follows: each frame's box is its span's face there.

    Where the span's face is the one ``track`` follows (IoU >= 0.3) the track's own box
    is kept, so a video whose chosen face is the tracked one is synced exactly as
    without ``faces.json``; a span with face None keeps the track's box. Returns
    ``track`` itself when nothing differs from it.
    """
    if not spans or track is None:
        return track
    fps = links.fps
    starts = [s.start_s for s in spans]
    boxes: list[FaceBox | None] = []
    for f in range(num_frames):
        t = (f + 0.5) / fps
        k = max(0, bisect.bisect_right(starts, t) - 1)
        face = spans[k].face
        tracked = track.boxes[f] if f < len(track.boxes) else None
        if face is None:
            boxes.append(tracked)
            continue
        faces = links.faces[face]
        mine = faces[f] if f < len(faces) else None
        if mine is not None and tracked is not None and tracked.iou(mine) >= _SAME_FACE_IOU:
            boxes.append(tracked)
        else:
            boxes.append(mine)
    if tuple(boxes) == tuple(track.boxes[:num_frames]) and len(track.boxes) == num_frames:
        return track
    return FaceTrack(tuple(boxes), track.fps, {**track.settings, "faces": "faces.json"})
