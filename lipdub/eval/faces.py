"""Every face of a video with a stable id, and each face's speaking score per span.

:func:`find_faces` runs the detector on every ``every``-th frame (on a copy downscaled
to ``max_side``), gives the faces stable ids with :func:`~lipdub.eval.speaker.link_faces`,
drops faces seen on fewer than ``min_seen`` of those frames (stray detections), and
fills the frames in between: linearly between two detections of the same face, and
by holding the nearer detection where the face appears or leaves. The result, a
:class:`FaceLinks`, is saved as JSON and cached by the video's content and the
detector's settings.

:func:`score_spans` decodes the video once at 25 fps and asks a
:class:`~lipdub.eval.base.SpeakingScorer` how well each candidate face of each span
matches the span's audio.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from lipdub._io import atomic_write_text
from lipdub.errors import InputError, MediaError
from lipdub.events import EventCallback, Progress, emit
from lipdub.faces.facetrack import lerp_box
from lipdub.types import FaceBox

if TYPE_CHECKING:
    from lipdub.eval.base import SpeakingScorer

__all__ = ["FaceLinks", "find_faces", "score_faces", "score_spans"]

_FPS = 25
_SAMPLES_PER_FRAME = 640


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


def find_faces(
    video: str | os.PathLike[str],
    detector: object,
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
        detector: A :class:`~lipdub.faces.FaceDetector`.
        every: Detect on every N-th frame (and the last one).
        max_side: Detect on a copy whose longer side is at most this (None: as is).
        min_seen: Drop faces seen on fewer detection frames than this.
        batch_size: Frames per detector call.
        on_event: Receives :class:`~lipdub.events.Progress` (stage ``"faces"``).
    """
    from lipdub.eval.speaker import link_faces
    from lipdub.faces import FaceDetector
    from lipdub.faces._scale import fit_within, unscale_box
    from lipdub.media import VideoReader

    assert isinstance(detector, FaceDetector)
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


def _frames_25(video: str | os.PathLike[str]) -> Iterator[npt.NDArray[np.uint8]]:
    from lipdub.media import VideoReader

    with VideoReader(video, fps=_FPS) as reader:
        yield from reader


def score_spans(
    video: str | os.PathLike[str],
    links: FaceLinks,
    spans: Sequence[tuple[float, float, Sequence[int]]],
    scorer: SpeakingScorer,
    audio: npt.NDArray[np.int16],
    *,
    max_span_s: float = 5.0,
    on_event: EventCallback | None = None,
) -> list[dict[int, float | None]]:
    """Each span's ``{face id: score}`` for its candidate faces (one decode at 25 fps).

    Args:
        video: The video the links belong to.
        links: Its faces.
        spans: ``(start_s, end_s, candidate face ids)``; spans may overlap.
        scorer: A :class:`~lipdub.eval.base.SpeakingScorer`.
        audio: The whole source audio, 16 kHz mono int16.
        max_span_s: Score at most the first this many seconds of a span (time and
            memory: SyncNet on a CPU takes about 2 s per second of speech and face).
        on_event: Receives :class:`~lipdub.events.Progress` (stage ``"faces"``).
    """
    from lipdub.eval.crops import crop_face, fill_gaps

    out: list[dict[int, float | None]] = [{} for _ in spans]
    windows: list[tuple[int, int, int, dict[int, list[FaceBox | None]]]] = []
    last = links.num_frames - 1
    for k, (start_s, end_s, cands) in enumerate(spans):
        a = round(start_s * _FPS)
        b = min(round(end_s * _FPS), a + round(max_span_s * _FPS))
        native = [min(last, int(j * links.fps / _FPS + 1e-6)) for j in range(a, b)]
        boxes = {fid: fill_gaps([links.faces[fid][f] for f in native]) for fid in cands}
        if b - a > 0 and cands:
            windows.append((k, a, b, boxes))
        for fid in cands:
            out[k][fid] = None
    if not windows:
        return out
    crops: dict[tuple[int, int], list[npt.NDArray[np.uint8]]] = {}
    end = max(b for _, _, b, _ in windows)
    for j, frame in enumerate(_frames_25(video)):
        if j >= end:
            break
        for k, a, b, boxes in windows:
            if not a <= j < b:
                continue
            for fid, fboxes in boxes.items():
                box = fboxes[j - a]
                if box is not None:
                    crops.setdefault((k, fid), []).append(crop_face(frame, box))
            if j == b - 1:
                for fid in boxes:
                    got = crops.pop((k, fid), [])
                    clip = audio[a * _SAMPLES_PER_FRAME : b * _SAMPLES_PER_FRAME]
                    if len(got) == b - a:
                        out[k][fid] = scorer.speaking_score(np.stack(got), clip)
                emit(on_event, Progress("faces", k + 1, len(spans), "spans"))
    return out


def score_faces(
    video: str | os.PathLike[str],
    links: FaceLinks,
    scorer: SpeakingScorer,
    audio: npt.NDArray[np.int16],
    *,
    on_event: EventCallback | None = None,
) -> list[dict[str, Any]]:
    """Offset, LSE-D and LSE-C of every face of ``links`` over the whole video.

    Each face is cropped at 25 fps where it is seen (elsewhere around its nearest box)
    and scored with a :class:`~lipdub.eval.SyncNetScorer` against ``audio`` (16 kHz
    int16). Returns ``[{"id", "box", "face_share", "sync"}]`` in id order.
    """
    from lipdub.eval.crops import crop_face
    from lipdub.eval.scorer import SyncNetScorer

    assert isinstance(scorer, SyncNetScorer)
    last = links.num_frames - 1
    crops: dict[int, list[npt.NDArray[np.uint8]]] = {fid: [] for fid in links.ids}
    native: list[int] = []
    for j, frame in enumerate(_frames_25(video)):
        native.append(min(last, int(j * links.fps / _FPS + 1e-6)))
        crops_of_frame = {}
        for fid in links.ids:
            box = links.faces[fid][native[-1]]
            crops_of_frame[fid] = None if box is None else crop_face(frame, box)
        for fid, crop in crops_of_frame.items():
            crops[fid].append(crop if crop is not None else np.zeros(0, np.uint8))
        if j % 250 == 0:
            emit(on_event, Progress("faces", j + 1, unit="frames"))
    out: list[dict[str, Any]] = []
    for fid in links.ids:
        seen = [c for c in crops[fid] if c.size]
        summary = links.summary(fid)
        row: dict[str, Any] = {
            "id": fid,
            "box": summary.get("box"),
            "face_share": len(seen) / max(1, len(native)),
            "sync": None,
        }
        if len(seen) > 5:
            filled = _fill_crops(crops[fid])
            row["sync"] = scorer.score(np.stack(filled), audio).to_dict()
        out.append(row)
    return out


def _fill_crops(crops: list[npt.NDArray[np.uint8]]) -> list[npt.NDArray[np.uint8]]:
    """Empty entries take the nearest earlier crop, else the nearest later one."""
    from lipdub.eval.crops import fill_gaps

    filled = fill_gaps([c if c.size else None for c in crops])
    return [c for c in filled if c is not None]
