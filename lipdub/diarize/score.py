"""Diarization error rate: how far speaker turns are from a reference, frame by frame."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lipdub.diarize.base import SpeakerTurn

__all__ = ["DiarizationError", "diarization_error", "read_rttm"]


@dataclass(frozen=True, slots=True)
class DiarizationError:
    """Seconds of missed speech, false alarm and speaker confusion, and their rate.

    ``rate`` is (missed + false_alarm + confusion) / reference speech, after mapping
    hypothesis labels to reference labels one-to-one to minimise the confusion.
    """

    reference_s: float
    missed_s: float
    false_alarm_s: float
    confusion_s: float
    mapping: dict[str, str]

    @property
    def rate(self) -> float:
        """The diarization error rate (0 = perfect)."""
        errors = self.missed_s + self.false_alarm_s + self.confusion_s
        return errors / self.reference_s if self.reference_s else 0.0


def _grid(turns: Sequence[SpeakerTurn], labels: list[str], n: int, step: float) -> np.ndarray:
    g = np.zeros((len(labels), n), bool)
    for t in turns:
        g[labels.index(t.speaker), round(t.start_s / step) : round(t.end_s / step)] = True
    return g


def diarization_error(
    reference: Sequence[SpeakerTurn],
    hypothesis: Sequence[SpeakerTurn],
    *,
    collar_s: float = 0.0,
    skip_overlap: bool = False,
    step_s: float = 0.01,
) -> DiarizationError:
    """Score ``hypothesis`` against ``reference``, frame by frame.

    Where the reference has several speakers at once, each counts: a hypothesis with
    one label there misses the others. ``skip_overlap`` leaves those frames out
    (the "overlap-excluded" DER, what a diarizer giving one label a frame can reach).

    Args:
        reference: The true turns.
        hypothesis: The turns found.
        collar_s: Time not scored on each side of every reference boundary.
        skip_overlap: Leave out the frames where the reference has two or more speakers.
        step_s: Frame length of the comparison.

    Example:
        >>> ref = [SpeakerTurn(0, 2, "A"), SpeakerTurn(2, 4, "B")]
        >>> hyp = [SpeakerTurn(0, 2.5, "S1"), SpeakerTurn(2.5, 4, "S2")]
        >>> e = diarization_error(ref, hyp)
        >>> round(e.rate, 3), e.mapping
        (0.125, {'S1': 'A', 'S2': 'B'})
        >>> both = [SpeakerTurn(0, 4, "A"), SpeakerTurn(1, 2, "B")]
        >>> round(diarization_error(both, [SpeakerTurn(0, 4, "S1")]).rate, 2)
        0.2
        >>> diarization_error(both, [SpeakerTurn(0, 4, "S1")], skip_overlap=True).rate
        0.0
    """
    from scipy.optimize import linear_sum_assignment

    end = max([t.end_s for t in (*reference, *hypothesis)], default=0.0)
    n = int(np.ceil(end / step_s)) + 1
    ref_labels = sorted({t.speaker for t in reference})
    hyp_labels = sorted({t.speaker for t in hypothesis})
    r = _grid(reference, ref_labels, n, step_s)
    h = _grid(hypothesis, hyp_labels, n, step_s)
    scored = np.ones(n, bool)
    if collar_s > 0:
        c = round(collar_s / step_s)
        for t in reference:
            for edge in (t.start_s, t.end_s):
                k = round(edge / step_s)
                scored[max(0, k - c) : k + c] = False
    if skip_overlap:
        scored &= r.sum(0) <= 1
    r, h = r[:, scored], h[:, scored]
    n_ref, n_hyp = r.sum(0), h.sum(0)
    overlap = (r[:, None, :] & h[None, :, :]).sum(-1) if r.size and h.size else np.zeros((0, 0))
    mapping: dict[str, str] = {}
    matched = 0
    if overlap.size:
        rows, cols = linear_sum_assignment(-overlap)
        mapping = {hyp_labels[c]: ref_labels[r_] for r_, c in zip(rows, cols, strict=True)}
        # frames where a mapped hypothesis speaker agrees with the reference
        hit = np.zeros(r.shape[1], int)
        for r_, c in zip(rows, cols, strict=True):
            hit += r[r_] & h[c]
        matched = int(hit.sum())
    missed = np.maximum(n_ref - n_hyp, 0).sum()
    false_alarm = np.maximum(n_hyp - n_ref, 0).sum()
    confusion = np.minimum(n_ref, n_hyp).sum() - matched
    return DiarizationError(
        reference_s=float(n_ref.sum() * step_s),
        missed_s=float(missed * step_s),
        false_alarm_s=float(false_alarm * step_s),
        confusion_s=float(confusion * step_s),
        mapping=mapping,
    )


def read_rttm(path: str | os.PathLike[str], *, file_id: str | None = None) -> list[SpeakerTurn]:
    """The ``SPEAKER`` lines of an RTTM file as turns, sorted by start.

    RTTM (NIST's "rich transcription time marked" format) gives one turn a line:
    ``SPEAKER <file> <channel> <onset> <duration> <NA> <NA> <speaker> <NA> <NA>``.
    Turns may overlap (two people talking at once); they are kept as they are.

    Args:
        path: The RTTM file.
        file_id: Keep only the lines of this recording (None: every line).

    Raises:
        InputError: the file is missing, or one of its lines is not a valid turn.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "ref.rttm"
        >>> _ = p.write_text("SPEAKER call 1 0.50 1.25 <NA> <NA> alice <NA> <NA>\\n")
        >>> read_rttm(p)
        [SpeakerTurn(start_s=0.5, end_s=1.75, speaker='alice')]
    """
    from lipdub.errors import InputError

    p = Path(path)
    if not p.is_file():
        raise InputError(f"the RTTM file {p.name} does not exist", path=p)
    turns: list[SpeakerTurn] = []
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split()
        if not fields or fields[0] != "SPEAKER":
            continue
        if file_id is not None and len(fields) > 1 and fields[1] != file_id:
            continue
        try:
            onset, duration, speaker = float(fields[3]), float(fields[4]), fields[7]
            turns.append(SpeakerTurn(onset, onset + duration, speaker))
        except (IndexError, ValueError, InputError) as e:
            raise InputError(
                f"{p.name} line {n} is not an RTTM speaker turn: {line.strip()!r}",
                path=p,
                hint="each SPEAKER line needs: file channel onset duration <NA> <NA> speaker",
            ) from e
    return sorted(turns, key=lambda t: (t.start_s, t.end_s))
