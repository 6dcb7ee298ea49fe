"""A face track as data: :class:`FaceTrack` (a box per frame), its JSON file and cache key, and
:func:`lerp_box`, the box between two boxes (the tracker and the all-faces pass interpolate
with it).

:class:`~lipdub.faces.track.FaceTracker` makes one; the dub's work directory keeps it as
``facetrack.<key>.json`` (:func:`track_cache_key` hashes the video's content and the
tracker's settings), and the lip-sync engine takes it as ``track=``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lipdub._hashing import content_key, settings_key
from lipdub._io import atomic_write_text
from lipdub.errors import InputError, MediaError
from lipdub.faces.base import require_face_found
from lipdub.types import FaceBox

__all__ = ["FaceTrack", "lerp_box", "require_face", "track_cache_key"]


@dataclass(frozen=True, slots=True)
class FaceTrack:
    """The face box of every frame of a video (``None`` where there is no face).

    Args:
        boxes: One entry per frame, in frame pixels.
        fps: Frame rate of the video the track belongs to, if known.
        settings: The tracker settings that produced it (for caching and reports).

    Example:
        >>> t = FaceTrack((FaceBox(0, 0, 10, 10), None), fps=25.0)
        >>> len(t), t.num_faces
        (2, 1)
    """

    boxes: tuple[FaceBox | None, ...]
    fps: float | None = None
    settings: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        boxes = tuple(self.boxes)
        for i, b in enumerate(boxes):
            if b is not None and not isinstance(b, FaceBox):
                raise InputError(f"FaceTrack.boxes[{i}] must be a FaceBox or None, got {b!r}")
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "settings", dict(self.settings))

    def __len__(self) -> int:
        return len(self.boxes)

    @property
    def num_faces(self) -> int:
        """Number of frames that have a face."""
        return sum(b is not None for b in self.boxes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; a box is ``[x1, y1, x2, y2, score]`` (+ landmarks)."""
        boxes: list[list[Any] | None] = []
        for b in self.boxes:
            if b is None:
                boxes.append(None)
                continue
            row: list[Any] = [*b.as_tuple(), b.score]
            if b.landmarks is not None:
                row.append([list(p) for p in b.landmarks])
            boxes.append(row)
        return {
            "format": "lipdub.facetrack",
            "version": 1,
            "fps": self.fps,
            "settings": dict(self.settings),
            "boxes": boxes,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<dict>") -> FaceTrack:
        """Inverse of :meth:`to_dict`.

        Raises:
            InputError: not a face track, or a malformed box.
        """
        if data.get("format") != "lipdub.facetrack" or data.get("version") != 1:
            raise InputError(
                "not a lipdub face track (format lipdub.facetrack, version 1)",
                path=source,
                hint="delete the file to recompute the track",
            )
        boxes: list[FaceBox | None] = []
        try:
            for row in data["boxes"]:
                if row is None:
                    boxes.append(None)
                    continue
                lm = tuple((float(x), float(y)) for x, y in row[5]) if len(row) > 5 else None
                x1, y1, x2, y2, score = (float(v) for v in row[:5])
                boxes.append(FaceBox(x1, y1, x2, y2, score, lm))
            fps = None if data.get("fps") is None else float(data["fps"])
        except (KeyError, TypeError, ValueError, IndexError) as e:
            if isinstance(e, InputError):
                raise
            raise InputError(
                f"malformed face track: {e}",
                path=source,
                hint="delete the file to recompute the track",
            ) from e
        return cls(tuple(boxes), fps, dict(data.get("settings") or {}))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the track as JSON, atomically. Returns the path."""
        return atomic_write_text(path, json.dumps(self.to_dict(), separators=(",", ":")))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> FaceTrack:
        """Read a track written by :meth:`save`.

        Raises:
            MediaError: the file cannot be read or is not JSON.
            InputError: it is not a face track.
        """
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except OSError as e:
            raise MediaError(f"cannot read face track: {e.strerror}", path=p) from e
        except ValueError as e:
            raise MediaError(
                f"face track is not valid JSON: {e}", path=p, hint="delete it to recompute"
            ) from e
        if not isinstance(data, dict):
            raise InputError("not a lipdub face track", path=p, hint="delete it to recompute")
        return cls.from_dict(data, source=str(p))


def track_cache_key(video_path: str | os.PathLike[str], settings: Mapping[str, Any]) -> str:
    """A key naming the face track of this video content under these settings.

    Hashes the file's content (not its name or modification time, so a copy or a
    touched file keeps its key; see :func:`lipdub._hashing.content_key`) and the
    settings (JSON, sorted keys).

    Returns:
        20 hex characters.

    Raises:
        MediaError: the file cannot be read.
    """
    p = Path(video_path)
    try:
        video = content_key(p)
    except OSError as e:
        raise MediaError(f"cannot read video for its cache key: {e.strerror}", path=p) from e
    return settings_key("lipdub.facetrack.v2", video, dict(settings))[:20]


def require_face(track: FaceTrack, *, source: str | os.PathLike[str] | None = None) -> FaceTrack:
    """Return ``track`` if any frame has a face, else raise :class:`~lipdub.errors.NoFaceError`.

    Raises:
        NoFaceError: naming how many frames were checked.
    """
    require_face_found(len(track), track.num_faces, source=source)
    return track


def lerp_box(a: FaceBox, b: FaceBox, t: float) -> FaceBox:
    """Box between ``a`` (t=0) and ``b`` (t=1); landmarks too when both have them."""
    x1, y1, x2, y2 = (pa + (pb - pa) * t for pa, pb in zip(a.as_tuple(), b.as_tuple(), strict=True))
    lm = None
    if a.landmarks is not None and b.landmarks is not None and len(a.landmarks) == len(b.landmarks):
        lm = tuple(
            (xa + (xb - xa) * t, ya + (yb - ya) * t)
            for (xa, ya), (xb, yb) in zip(a.landmarks, b.landmarks, strict=True)
        )
    return FaceBox(x1, y1, x2, y2, min(a.score, b.score), lm)
