"""``evaluate_video``: the whole evaluation of one video, as one report.

Example:
    >>> r = EvalReport(video="a.mp4", mode="cropped", frames=50, face_share=1.0, sync=None)
    >>> r.to_dict()["face_share"]
    1.0
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from lipdub import artifacts
from lipdub.eval.protocol import SyncScore
from lipdub.events import EventCallback, StageFinished, StageStarted, emit
from lipdub.limits import Limits

if TYPE_CHECKING:
    from lipdub.eval.mouth import MouthReport

__all__ = ["EvalReport", "check_eval_inputs", "draw_curve", "evaluate_video", "timing_summary"]


@dataclass(frozen=True, slots=True)
class EvalReport:
    """What ``lipdub eval`` measured.

    Attributes:
        video: The evaluated file.
        mode: ``"cropped"`` (input is a face crop) or ``"tracked"`` (lipdub's crops).
        frames: Frames scored (at 25 fps).
        face_share: Fraction of frames with a face.
        sync: Offset, LSE-D, LSE-C (None only in a report built by hand).
        reference: PSNR/SSIM outside the mouth against ``--reference``, if given.
        timing: The dub timing summary per language, for a lipdub work directory.
        faces: When several faces are seen: each face's id, median box, share of
            frames and its own offset / LSE-D / LSE-C (:func:`lipdub.eval.faces.score_faces`).
        mouth: Sharpness (against ``reference``) and stability in silence of the
            mouth region (:mod:`lipdub.eval.mouth`); None for a cropped input, which
            has no face box.
    """

    video: str
    mode: Literal["cropped", "tracked"]
    frames: int
    face_share: float
    sync: SyncScore | None
    reference: dict[str, Any] | None = None
    timing: dict[str, Any] = field(default_factory=dict)
    faces: list[dict[str, Any]] = field(default_factory=list)
    mouth: MouthReport | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "video": self.video,
            "mode": self.mode,
            "frames": self.frames,
            "face_share": self.face_share,
            "sync": None if self.sync is None else self.sync.to_dict(),
            "reference": self.reference,
            "timing": self.timing,
            "faces": self.faces,
            "mouth": None if self.mouth is None else self.mouth.to_dict(),
        }


def timing_summary(workdir: str | os.PathLike[str]) -> dict[str, Any]:
    """Per language: lines, start errors, speaking rates and overflows of ``timing.<lang>.json``,
    and the summary of its lines' quality records (``quality``: see
    :func:`lipdub.quality.summary.quality_summary`).

    Start error = placed start minus source start (seconds). Unreadable reports are skipped.
    """
    from lipdub.quality.summary import quality_summary

    out: dict[str, Any] = {}
    for path in sorted(Path(workdir).glob(artifacts.pattern(artifacts.TIMING))):
        lang = artifacts.language_of(path.name, artifacts.TIMING) or ""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            rows = [r for r in data["segments"] if isinstance(r, dict)]
            starts = [
                float(r["start_s"])
                - float(r["source_start_s"] if "source_start_s" in r else r["start_s"])
                for r in rows
            ]
            speeds = [float(r["speed"]) for r in rows if r.get("speed") is not None]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        out[lang] = {
            "lines": len(rows),
            "start_error_s_mean": float(np.mean(np.abs(starts))) if starts else 0.0,
            "start_error_s_max": float(np.max(np.abs(starts))) if starts else 0.0,
            "speed_mean": float(np.mean(speeds)) if speeds else None,
            "speed_max": float(np.max(speeds)) if speeds else None,
            "overflowing": int(data.get("overflowing", 0)),
            "delayed": int(data.get("delayed", 0)),
            "cut": int(data.get("cut", 0)),
            "unfitted": int(data.get("unfitted", 0)),
            "quality": quality_summary(rows),
        }
    return out


def check_eval_inputs(
    video: str | os.PathLike[str],
    *,
    audio: str | os.PathLike[str] | None = None,
    limits: Limits | None = None,
) -> None:
    """Refuse now, from the headers alone, what :func:`evaluate_video` could not score.

    The video must be readable and declare at most ``limits.max_audio_duration_s``
    (its frames are all held as crops at 25 fps); the sound (``audio``, else the
    video's own track) must pass :func:`~lipdub.media.audio.check_audio`, the check
    :func:`~lipdub.media.load_audio` makes before decoding, so that a sound track
    declared to start 10 hours in is one error, not hours of padding.

    Raises:
        MediaError: An unreadable file, or a declared length or offset over the limits.
    """
    from lipdub.errors import MediaError
    from lipdub.limits import resolve
    from lipdub.media import probe
    from lipdub.media.audio import check_audio

    lim = resolve(limits)
    info = probe(video)
    if not info.is_image and info.duration_s > lim.max_audio_duration_s:
        raise MediaError(
            f"the video declares {info.duration_s:.0f} s, over the "
            f"{lim.max_audio_duration_s:.0f} s limit on what is scored at once",
            path=video,
            hint="cut it into parts; to score it anyway set "
            f"{Limits.env_var('max_audio_duration_s')}",
        )
    check_audio(audio if audio is not None else video, limits=lim)


def _check_args(
    video: object,
    scorer: object,
    audio: object,
    detector: object,
    cropped: object,
    reference: object,
    workdir: object,
    on_event: object,
) -> None:
    from lipdub._checks import (
        bool_arg,
        callable_arg,
        describe,
        optional_path_arg,
        path_arg,
    )
    from lipdub.errors import InputError

    path_arg(video, "video")
    if not callable(getattr(scorer, "score", None)):
        raise InputError(
            f"scorer must be a SyncNetScorer (an object with score(crops, audio)); "
            f"got {describe(scorer)}",
            hint="lipdub.eval.SyncNetScorer('syncnet_v2.model')",
        )
    optional_path_arg(audio, "audio")
    if not bool_arg(cropped, "cropped"):
        from lipdub.faces.base import FaceDetector

        if detector is None:
            raise InputError(
                "detector is needed unless the video is a face crop (cropped=True)",
                hint="pass a FaceDetector, e.g. lipdub.registry.resolve('detector', 'retinaface')",
            )
        if not isinstance(detector, FaceDetector):
            raise InputError(f"detector must be a FaceDetector; got {describe(detector)}")
    optional_path_arg(reference, "reference")
    optional_path_arg(workdir, "workdir")
    callable_arg(on_event, "on_event")


def evaluate_video(
    video: str | os.PathLike[str],
    scorer: Any,
    *,
    audio: str | os.PathLike[str] | None = None,
    detector: Any = None,
    cropped: bool = False,
    reference: str | os.PathLike[str] | None = None,
    workdir: str | os.PathLike[str] | None = None,
    on_event: EventCallback | None = None,
    limits: Limits | None = None,
) -> EvalReport:
    """Score a video's lip-sync with ``scorer`` (a :class:`~lipdub.eval.SyncNetScorer`).

    Args:
        video: The video.
        scorer: The scorer.
        audio: The sound to score against (default: the video's own track).
        detector: Face detector for the crops (needed unless ``cropped``).
        cropped: The video is already a face crop (reference protocol (a)).
        reference: The original video: adds PSNR/SSIM outside the mouth and the
            mouth's sharpness against it.
        workdir: A lipdub work directory: adds the dub timing summary.
        on_event: Progress events (stages ``crops``, ``eval``, ``faces``, ``compare``,
            ``mouth``).
        limits: The longest video and sound scored (``max_audio_duration_s``) and the
            sound's accepted rates (default: :meth:`~lipdub.limits.Limits.from_env`).

    Raises:
        InputError: An argument of the wrong type (named in the message).
        MediaError: An unreadable file, or one whose declared length or sound offset
            is over ``limits`` (checked from the headers, before anything is decoded;
            see :func:`check_eval_inputs`).
        NoFaceError: No face in any frame (unless ``cropped``).
    """
    from lipdub.eval.crops import cropped_frames, tracked_crops
    from lipdub.eval.mfcc import SAMPLE_RATE_HZ
    from lipdub.media import load_audio

    _check_args(video, scorer, audio, detector, cropped, reference, workdir, on_event)
    check_eval_inputs(video, audio=audio, limits=limits)
    emit(on_event, StageStarted("crops", unit="frames"))
    if cropped:
        crops = cropped_frames(video, on_event=on_event)
    else:
        crops = tracked_crops(video, detector, on_event=on_event)
    emit(on_event, StageFinished("crops"))
    clip = load_audio(audio if audio is not None else video, SAMPLE_RATE_HZ, limits=limits)
    emit(on_event, StageStarted("eval", unit="windows"))
    sync = scorer.score(crops.crops, clip.to_int16(), on_event=on_event)
    emit(on_event, StageFinished("eval"))
    faces: list[dict[str, Any]] = []
    if not cropped:
        from lipdub.eval.faces import find_faces, score_faces

        emit(on_event, StageStarted("faces", unit="frames"))
        links = find_faces(video, detector, on_event=on_event)
        if len(links.ids) > 1:
            faces = score_faces(video, links, scorer, clip.to_int16(), on_event=on_event)
        emit(on_event, StageFinished("faces"))
    compared = None
    if reference is not None:
        from lipdub.eval.compare import compare_outside_mouth

        emit(on_event, StageStarted("compare", unit="frames"))
        compared = compare_outside_mouth(video, reference, crops.boxes, on_event=on_event)
        emit(on_event, StageFinished("compare"))
    mouth = None
    if not cropped:
        from lipdub.eval.mouth import measure_mouth

        emit(on_event, StageStarted("mouth", unit="frames"))
        mouth = measure_mouth(
            video,
            reference,
            crops.boxes,
            clip.to_int16(),
            sample_rate_hz=SAMPLE_RATE_HZ,
            on_event=on_event,
        )
        emit(on_event, StageFinished("mouth"))
    return EvalReport(
        video=os.fspath(video),
        mode="cropped" if cropped else "tracked",
        frames=int(crops.crops.shape[0]),
        face_share=crops.face_share,
        sync=sync,
        reference=compared,
        timing=timing_summary(workdir) if workdir is not None else {},
        faces=faces,
        mouth=mouth,
    )


def draw_curve(values: list[float], width: int = 640, height: int = 240) -> npt.NDArray[np.uint8]:
    """A BGR image of the per-second confidence curve (numpy + OpenCV, no matplotlib).

    Example:
        >>> draw_curve([1.0, 2.0, 0.5]).shape
        (240, 640, 3)
    """
    import cv2

    img = np.full((height, width, 3), 255, np.uint8)
    m = 30
    cv2.rectangle(img, (m, 10), (width - 10, height - m), (0, 0, 0), 1)
    cv2.putText(
        img, "confidence per second", (m + 4, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1
    )
    if values:
        lo, hi = min(0.0, *values), max(1e-6, *values)
        n = len(values)
        xs = [m + (width - 10 - m) * (i + 0.5) / n for i in range(n)]
        ys = [height - m - (height - m - 30) * (v - lo) / (hi - lo) for v in values]
        pts = np.array([[int(x), int(y)] for x, y in zip(xs, ys, strict=True)], np.int32)
        cv2.polylines(img, [pts], False, (200, 80, 0), 2)
        for p in pts:
            cv2.circle(img, (int(p[0]), int(p[1])), 3, (200, 80, 0), -1)
        zero = int(height - m - (height - m - 30) * (0 - lo) / (hi - lo))
        cv2.line(img, (m, zero), (width - 10, zero), (160, 160, 160), 1)
        cv2.putText(img, f"{hi:.2f}", (2, 40), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1)
        cv2.putText(img, f"{lo:.2f}", (2, height - m), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1)
        cv2.putText(
            img, f"{n} s", (width - 40, height - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1
        )
    return img
