"""Which face, where: every face with a stable id, and the face chosen per speech span.

Face selection lives here, typed, for the dub and for ``lipdub eval`` alike:

1. :func:`link_faces` gives every detected face a stable id across frames (greedy IoU
   matching of each frame's detections to the faces of the previous frames; ids in
   order of first appearance). :func:`detect_faces` runs a detector on frames in
   memory and links them; :func:`find_faces` does it on a video file, on every
   ``every``-th frame (downscaled to ``max_side``), drops faces seen on fewer than
   ``min_seen`` of those frames and fills the frames in between (linearly between two
   detections of the same face, else holding the nearer one). The result is a
   :class:`FaceLinks`, saved as JSON.
2. :func:`choose_span_faces` picks the face of each speech span: a fixed id, the
   largest candidate, or the best speaking score (scores come from
   :func:`lipdub.eval.faces.score_spans`); with speaker labels each speaker keeps one
   face. :func:`choose_faces` is the same choice from a score function.
3. :func:`lipsync_track` (dub) and :func:`chosen_track` turn the choice into the
   :class:`~lipdub.faces.track.FaceTrack` the lip-sync follows.

Example:
    >>> a, b = FaceBox(0, 0, 10, 10), FaceBox(50, 0, 60, 10)
    >>> faces = link_faces([[a, b], [b, a], [a]])
    >>> [faces[0][i] == a for i in range(3)], faces[1][2] is None
    ([True, True, True], True)
    >>> links = FaceLinks({0: (a, a), 1: (b, None)}, fps=25.0)
    >>> candidates(links, 0.0, 0.08)
    [0, 1]
    >>> chosen, _ = choose_span_faces(links, [(0.0, 0.08, None)], mode="largest")
    >>> chosen[0].face
    0
"""

from __future__ import annotations

import bisect
import json
import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lipdub._io import atomic_write_text
from lipdub.errors import InputError, MediaError
from lipdub.events import EventCallback, Progress, emit
from lipdub.faces._scale import fit_within, unscale_box
from lipdub.faces.base import FaceDetector
from lipdub.faces.facetrack import FaceTrack, lerp_box
from lipdub.types import FaceBox

__all__ = [
    "MIN_PRESENCE",
    "FaceLinks",
    "SpanChoice",
    "SpanFace",
    "SpanScore",
    "candidates",
    "choose_faces",
    "choose_span_faces",
    "chosen_track",
    "describe_ids",
    "detect_faces",
    "find_faces",
    "link_faces",
    "lipsync_track",
]

#: A face must be seen in this share of a span's frames to be chosen for it.
MIN_PRESENCE = 0.5
_SAME_FACE_IOU = 0.3

#: ``score(face_id, first_frame, end_frame)`` (end exclusive): higher = speaking.
SpanScore = Callable[[int, int, int], float]


def _box(row: Sequence[Any]) -> FaceBox:
    x1, y1, x2, y2, score = (float(v) for v in row[:5])
    return FaceBox(x1, y1, x2, y2, score)


@dataclass(frozen=True)
class FaceLinks:
    """Every face of a video: ``faces[id][frame]`` is its box there (None: absent).

    Example:
        >>> links = FaceLinks({0: (FaceBox(0, 0, 10, 10), None)}, fps=25.0)
        >>> links.ids, links.num_frames, links.summary(0)["frames_seen"]
        ([0], 2, 1)
    """

    faces: Mapping[int, tuple[FaceBox | None, ...]]
    fps: float

    @property
    def ids(self) -> list[int]:
        """The face ids, in order of first appearance."""
        return sorted(self.faces)

    @property
    def num_frames(self) -> int:
        """Frames of the video (0 when no face was found)."""
        return max((len(b) for b in self.faces.values()), default=0)

    def frames_of(self, start_s: float, end_s: float) -> range:
        """The frame indices of ``[start_s, end_s)``."""
        a = max(0, round(start_s * self.fps))
        return range(a, max(a, min(self.num_frames, round(end_s * self.fps))))

    def presence(self, fid: int, start_s: float, end_s: float) -> float:
        """The share of the span's frames where face ``fid`` is seen."""
        frames = self.frames_of(start_s, end_s)
        if not frames:
            return 0.0
        boxes = self.faces[fid]
        return sum(boxes[f] is not None for f in frames) / len(frames)

    def mean_area(self, fid: int, start_s: float, end_s: float) -> float:
        """The face's mean box area over the frames of the span where it is seen."""
        areas = [b.area for f in self.frames_of(start_s, end_s) if (b := self.faces[fid][f])]
        return float(np.mean(areas)) if areas else 0.0

    def summary(self, fid: int) -> dict[str, Any]:
        """Where face ``fid`` is: first/last frame and time, frames seen, median box."""
        seen = [(f, b) for f, b in enumerate(self.faces[fid]) if b is not None]
        if not seen:
            return {"id": fid, "frames_seen": 0}
        corners = np.median(np.array([b.as_tuple() for _, b in seen]), axis=0)
        return {
            "id": fid,
            "first_s": round(seen[0][0] / self.fps, 3),
            "last_s": round(seen[-1][0] / self.fps, 3),
            "frames_seen": len(seen),
            "box": [round(float(v), 1) for v in corners],
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (a box is ``[x1, y1, x2, y2, score]``)."""

        def row(b: FaceBox | None) -> list[float] | None:
            return None if b is None else [*(round(v, 2) for v in b.as_tuple()), b.score]

        return {
            "format": "lipdub.facelinks",
            "version": 1,
            "fps": self.fps,
            "faces": {str(k): [row(b) for b in v] for k, v in self.faces.items()},
        }

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> FaceLinks:
        """Read a file written by :meth:`save`.

        Raises:
            MediaError: unreadable, not JSON or not a face-links file.
        """
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
            if data.get("format") != "lipdub.facelinks":
                raise ValueError("not a lipdub face-links file")
            faces = {
                int(k): tuple(None if r is None else _box(r) for r in v)
                for k, v in data["faces"].items()
            }
            return cls(faces, float(data["fps"]))
        except (OSError, ValueError, TypeError, KeyError, AttributeError, InputError) as e:
            raise MediaError(f"damaged face-links cache: {e}", path=p) from e

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write atomically; returns the path."""
        return atomic_write_text(path, json.dumps(self.to_dict(), separators=(",", ":")))


# ----------------------------------------------------------------- finding faces


def link_faces(
    detections: Sequence[Sequence[FaceBox]], *, min_iou: float = 0.3, max_gap: int = 12
) -> dict[int, list[FaceBox | None]]:
    """Stable face ids: ``{id: box per frame (None where that face is absent)}``.

    Each frame's detections are matched to the known faces by IoU with their last box
    (largest IoU first, at least ``min_iou``; a face unseen for more than ``max_gap``
    frames is not matched again); an unmatched detection starts a new id.
    """
    faces: dict[int, list[FaceBox | None]] = {}
    last: dict[int, tuple[int, FaceBox]] = {}
    n = len(detections)
    for f, dets in enumerate(detections):
        pairs = sorted(
            (
                (last_box.iou(det), fid, k)
                for fid, (seen, last_box) in last.items()
                if f - seen <= max_gap + 1
                for k, det in enumerate(dets)
            ),
            reverse=True,
        )
        used_faces: set[int] = set()
        used_dets: set[int] = set()
        assigned: dict[int, FaceBox] = {}
        for iou, fid, k in pairs:
            if iou < min_iou or fid in used_faces or k in used_dets:
                continue
            used_faces.add(fid)
            used_dets.add(k)
            assigned[fid] = dets[k]
        for k, det in enumerate(dets):
            if k not in used_dets:
                fid = len(faces)
                faces[fid] = [None] * n
                assigned[fid] = det
        for fid, box in assigned.items():
            faces[fid][f] = box
            last[fid] = (f, box)
    return faces


def detect_faces(
    frames: Sequence[npt.NDArray[np.uint8]], detector: FaceDetector, *, batch_size: int = 8
) -> dict[int, list[FaceBox | None]]:
    """Every face of every frame with a stable id (``detector`` on each frame, then
    :func:`link_faces`)."""
    found: list[list[FaceBox]] = []
    for start in range(0, len(frames), batch_size):
        found.extend(detector.detect(list(frames[start : start + batch_size])))
    return link_faces(found)


def find_faces(
    video: str | os.PathLike[str],
    detector: FaceDetector,
    *,
    every: int = 5,
    max_side: int | None = 640,
    min_seen: int = 2,
    batch_size: int = 4,
    on_event: EventCallback | None = None,
) -> FaceLinks:
    """Every face of ``video`` with a stable id (see the module doc).

    Args:
        video: The video.
        detector: The face detector.
        every: Detect on every N-th frame (and the last one).
        max_side: Detect on a copy whose longer side is at most this (None: as is).
        min_seen: Drop faces seen on fewer detection frames than this.
        batch_size: Frames per detector call.
        on_event: Receives :class:`~lipdub.events.Progress` (stage ``"faces"``).
    """
    from lipdub.media import VideoReader

    if every < 1:
        raise InputError(f"every must be >= 1, got {every}")
    keys: list[int] = []
    found: list[list[FaceBox]] = []
    pending: list[tuple[int, Any, float, float]] = []

    def flush() -> None:
        dets = detector.detect([small for _, small, _, _ in pending])
        for (i, _, sx, sy), boxes in zip(pending, dets, strict=True):
            keys.append(i)
            found.append([unscale_box(b, sx, sy) for b in boxes])
        pending.clear()

    with VideoReader(video) as reader:
        total = reader.info.frame_count
        fps = float(reader.info.fps)
        n = 0
        last_frame: Any = None
        for i, frame in enumerate(reader):
            n = i + 1
            last_frame = frame
            if i % every == 0:
                pending.append((i, *fit_within(frame, max_side)))
                if len(pending) >= batch_size:
                    flush()
                    emit(on_event, Progress("faces", i + 1, total, "frames"))
        if n and (n - 1) % every != 0:
            pending.append((n - 1, *fit_within(last_frame, max_side)))
        if pending:
            flush()
    linked = link_faces(found, max_gap=2)
    kept = [fid for fid in sorted(linked) if sum(b is not None for b in linked[fid]) >= min_seen]
    if not kept and linked:  # a very short clip: keep what there is
        kept = sorted(linked)
    faces = {new: _fill_frames(keys, linked[old], n) for new, old in enumerate(kept)}
    return FaceLinks(faces, fps)


def _fill_frames(
    keys: list[int], at_keys: list[FaceBox | None], n: int
) -> tuple[FaceBox | None, ...]:
    """Boxes for all ``n`` frames from those at the detection frames ``keys``."""
    out: list[FaceBox | None] = [None] * n
    for k, (i, box) in enumerate(zip(keys, at_keys, strict=True)):
        out[i] = box
        if k + 1 == len(keys):
            break
        j, after = keys[k + 1], at_keys[k + 1]
        for f in range(i + 1, j):
            t = (f - i) / (j - i)
            if box is not None and after is not None:
                out[f] = lerp_box(box, after, t)
            else:  # the face appears or leaves: hold the nearer detection
                out[f] = box if t < 0.5 else after
    return tuple(out)


# --------------------------------------------------------------- choosing a face


@dataclass(frozen=True, slots=True)
class SpanFace:
    """One source speech span and the face lip-synced in it (None: the face track's)."""

    start_s: float
    end_s: float
    face: int | None
    speaker: str | None = None
    scores: dict[int, float | None] = field(default_factory=dict)


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


@dataclass(frozen=True, slots=True)
class SpanChoice:
    """The face chosen for one speech span, and every candidate's score."""

    start_s: float
    end_s: float
    face_id: int | None
    scores: dict[int, float]


def choose_faces(
    faces: dict[int, list[FaceBox | None]],
    spans: Sequence[tuple[float, float]],
    score: SpanScore,
    *,
    fps: float,
    min_presence: float = 0.5,
) -> list[SpanChoice]:
    """The speaking face of each span: the best score among faces present in at least
    ``min_presence`` of the span's frames (None when no face is)."""
    out: list[SpanChoice] = []
    for start_s, end_s in spans:
        a, b = round(start_s * fps), round(end_s * fps)
        scores: dict[int, float] = {}
        for fid, boxes in faces.items():
            seen = sum(box is not None for box in boxes[a:b])
            if b > a and seen >= min_presence * (b - a):
                scores[fid] = float(score(fid, a, b))
        best = max(scores, key=lambda k: scores[k]) if scores else None
        out.append(SpanChoice(start_s, end_s, best, scores))
    return out


def chosen_track(
    faces: dict[int, list[FaceBox | None]],
    choices: Sequence[SpanChoice],
    *,
    fps: float,
    num_frames: int,
) -> FaceTrack:
    """A :class:`~lipdub.faces.track.FaceTrack`: the chosen face's box in its spans."""
    boxes: list[FaceBox | None] = [None] * num_frames
    for c in choices:
        if c.face_id is None:
            continue
        a, b = round(c.start_s * fps), min(num_frames, round(c.end_s * fps))
        for f in range(a, b):
            boxes[f] = faces[c.face_id][f]
    return FaceTrack(tuple(boxes), fps, {"select": "active"})
