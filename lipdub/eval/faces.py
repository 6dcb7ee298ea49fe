"""Each face's speaking score per span, and each face's sync over a whole video.

The faces themselves (:class:`FaceLinks`, :func:`find_faces`) are found in
:mod:`lipdub.faces.select`, where face selection lives; they are re-exported here.

:func:`score_spans` decodes the video once at 25 fps and asks a
:class:`~lipdub.eval.base.SpeakingScorer` how well each candidate face of each span
matches the span's audio.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from lipdub.events import EventCallback, Progress, emit
from lipdub.faces.select import FaceLinks, find_faces
from lipdub.types import FaceBox

if TYPE_CHECKING:
    from lipdub.eval.base import SpeakingScorer
    from lipdub.eval.scorer import SyncNetScorer

__all__ = ["FaceLinks", "find_faces", "score_faces", "score_spans"]

_FPS = 25
_SAMPLES_PER_FRAME = 640


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
    scorer: SyncNetScorer,
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
