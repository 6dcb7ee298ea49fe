"""Two dubs of one source, side by side: ``lipdub eval --compare A.mp4 B.mp4``.

:func:`compare_videos` evaluates each video with :func:`~lipdub.eval.evaluate_video`
against the same source (the same scorer and detector), and
:func:`comparison_rows` lays the numbers out as a table: the mouth's sharpness and
stability (:mod:`lipdub.eval.mouth`), SyncNet's offset, LSE-D and LSE-C, and PSNR/SSIM
outside the mouth.

Read LSE-C with care: Wav2Lip was trained against a SyncNet of the same kind, so a
Wav2Lip dub can beat a sharper model on LSE-C alone; sharpness and stability are the
eyes it lacks.

Example:
    >>> from lipdub.eval.report import EvalReport
    >>> a = EvalReport(video="a.mp4", mode="tracked", frames=50, face_share=1.0, sync=None)
    >>> rows = comparison_rows([a, a])
    >>> rows[0].label, rows[0].values
    ('mouth sharpness', ('-', '-'))
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lipdub.eval.report import EvalReport, evaluate_video
from lipdub.events import EventCallback
from lipdub.limits import Limits

__all__ = ["ComparisonRow", "compare_videos", "comparison_rows", "comparison_to_dict"]


@dataclass(frozen=True, slots=True)
class ComparisonRow:
    """One line of the side-by-side table.

    Attributes:
        label: What is measured.
        values: One formatted value per video (``"-"`` where it was not measured).
        note: How to read it (units, which way is better).
    """

    label: str
    values: tuple[str, ...]
    note: str


def compare_videos(
    videos: Sequence[str | os.PathLike[str]],
    scorer: Any,
    *,
    reference: str | os.PathLike[str],
    detector: Any,
    audio: str | os.PathLike[str] | None = None,
    on_event: EventCallback | None = None,
    limits: Limits | None = None,
) -> list[EvalReport]:
    """Evaluate each of ``videos`` (dubs of ``reference``) the same way.

    Args:
        videos: Two or more lip-synced videos of the same source.
        scorer: A :class:`~lipdub.eval.SyncNetScorer`.
        reference: The source they were made from (sharpness and the outside-mouth
            PSNR/SSIM are measured against it).
        detector: The face detector for the crops and the mouth region.
        audio: Score against this sound instead of each video's own track.
        on_event: Progress events of each evaluation in turn.
        limits: As for :func:`~lipdub.eval.evaluate_video`.

    Raises:
        InputError: Fewer than two videos, or an argument of the wrong type.
        MediaError, NoFaceError: As for :func:`~lipdub.eval.evaluate_video`.
    """
    from lipdub.errors import InputError

    if isinstance(videos, str | os.PathLike) or len(videos) < 2:
        raise InputError(
            "compare_videos needs two or more videos to set side by side",
            hint="lipdub eval --compare A.mp4 B.mp4 --reference ORIGINAL",
        )
    return [
        evaluate_video(
            video,
            scorer,
            audio=audio,
            detector=detector,
            reference=reference,
            on_event=on_event,
            limits=limits,
        )
        for video in videos
    ]


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def comparison_rows(reports: Sequence[EvalReport]) -> list[ComparisonRow]:
    """The side-by-side table of ``reports`` (one column each)."""

    def row(label: str, get: Callable[[EvalReport], Any], spec: str, note: str) -> ComparisonRow:
        return ComparisonRow(label, tuple(_fmt(get(r), spec) for r in reports), note)

    def mouth(name: str) -> Callable[[EvalReport], Any]:
        return lambda r: None if r.mouth is None else getattr(r.mouth, name)

    def sync(name: str) -> Callable[[EvalReport], Any]:
        return lambda r: None if r.sync is None else getattr(r.sync, name)

    def ref(name: str) -> Callable[[EvalReport], Any]:
        return lambda r: None if r.reference is None else r.reference[name]

    return [
        row(
            "mouth sharpness", mouth("sharpness"), ".3f", "vs the source: 1 as sharp, lower softer"
        ),
        row(
            "mouth jitter in silence",
            mouth("jitter"),
            ".2f",
            "grey levels per frame: lower is steadier",
        ),
        row("  the source's, same frames", mouth("source_jitter"), ".2f", "head and camera motion"),
        row("  silent frame pairs", mouth("silent_pairs"), "d", "jitter is measured on these"),
        row("LSE-D", sync("lse_d"), ".3f", "SyncNet distance: lower is better"),
        row("LSE-C", sync("lse_c"), ".3f", "SyncNet confidence: higher; favours Wav2Lip"),
        row("A/V offset (frames)", sync("offset_frames"), "+d", "40 ms each; 0 is in sync"),
        row("PSNR outside mouth (dB)", ref("psnr_db_mean"), ".2f", "vs the source: higher"),
        row("SSIM outside mouth", ref("ssim_mean"), ".4f", "vs the source: 1 is unchanged"),
        row("face in frames", lambda r: r.face_share, ".0%", "share of frames with a face"),
    ]


def comparison_to_dict(
    reports: Sequence[EvalReport], reference: str | os.PathLike[str]
) -> dict[str, Any]:
    """A JSON-ready dict: the source and every video's whole report, in order."""
    return {"reference": os.fspath(reference), "videos": [r.to_dict() for r in reports]}
