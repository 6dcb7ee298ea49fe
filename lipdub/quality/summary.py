"""The quality of a whole dub in one language, from the lines of ``timing.<lang>.json``.

:func:`quality_summary` gives what ``lipdub eval`` prints: how many lines were checked,
the mean CER and WER, the means per speaker (CER, similarity to their own reference),
the lines flagged ``review`` and the worst lines.

Example:
    >>> from lipdub.quality.records import Intelligibility, LineQuality, LineTiming, SpeakerMatch
    >>> def row(i, cer, verdict="ok"):
    ...     q = LineQuality(Intelligibility(cer, cer), SpeakerMatch(None, reason="none"),
    ...                     LineTiming(1.0, 0.0, False), verdict)
    ...     return {"index": i, "text": f"line {i}", "speaker": "S1", "quality": q.to_dict()}
    >>> s = quality_summary([row(0, 0.0), row(1, 0.5, "review")])
    >>> s["checked"], s["cer_mean"], [f["index"] for f in s["flagged"]]
    (2, 0.25, [1])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lipdub.errors import InputError
from lipdub.quality.records import LineQuality

__all__ = ["quality_summary"]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _line(row: Mapping[str, Any], q: LineQuality) -> dict[str, Any]:
    return {
        "index": row.get("index"),
        "speaker": row.get("speaker"),
        "text": str(row.get("text", ""))[:120],
        "cer": q.intelligibility.cer,
        "heard": q.intelligibility.heard,
        "similarity": q.speaker.own,
        "closest": q.speaker.closest,
        "problems": list(q.problems),
        "retry": None if q.retry is None else q.retry.to_dict(),
    }


def quality_summary(rows: Iterable[Mapping[str, Any]], *, worst: int = 5) -> dict[str, Any]:
    """The summary of the ``quality`` records of a timing report's rows.

    Rows without a readable record are counted in ``lines`` only. ``worst`` lines are
    the ones with the most problems, then the highest CER, then the lowest margin of
    similarity to their own speaker.
    """
    rows = list(rows)
    judged: list[tuple[Mapping[str, Any], LineQuality]] = []
    for row in rows:
        raw = row.get("quality")
        if isinstance(raw, dict):
            try:
                judged.append((row, LineQuality.from_dict(raw)))
            except InputError:
                continue
    checked = [(r, q) for r, q in judged if q.verdict != "unchecked"]
    speakers: dict[str, dict[str, list[float]]] = {}
    for row, q in checked:
        label = str(row.get("speaker") or "-")
        bucket = speakers.setdefault(label, {"cer": [], "similarity": [], "lines": []})
        bucket["lines"].append(1.0)
        if q.intelligibility.cer is not None:
            bucket["cer"].append(q.intelligibility.cer)
        if q.speaker.own is not None:
            bucket["similarity"].append(q.speaker.own)
    cers = [q.intelligibility.cer for _, q in checked if q.intelligibility.cer is not None]
    wers = [q.intelligibility.wer for _, q in checked if q.intelligibility.wer is not None]
    reasons = sorted(
        {q.intelligibility.reason for _, q in judged if q.intelligibility.reason}
        | {q.speaker.reason for _, q in judged if q.speaker.reason}
    )
    ranked = sorted(checked, key=lambda rq: rq[1].badness(), reverse=True)
    return {
        "lines": len(rows),
        "checked": len(checked),
        "cer_mean": _mean(cers),
        "wer_mean": _mean(wers),
        "models": sorted({q.intelligibility.model for _, q in checked if q.intelligibility.model}),
        "speakers": {
            label: {
                "lines": len(b["lines"]),
                "cer_mean": _mean(b["cer"]),
                "similarity_mean": _mean(b["similarity"]),
            }
            for label, b in sorted(speakers.items())
        },
        "retried": sum(q.retry is not None for _, q in checked),
        "kept_retake": sum(q.retry is not None and q.retry.kept == "retake" for _, q in checked),
        "flagged": [_line(r, q) for r, q in checked if q.verdict == "review"],
        "worst": [_line(r, q) for r, q in ranked[:worst]],
        "not_measured": reasons,
    }
