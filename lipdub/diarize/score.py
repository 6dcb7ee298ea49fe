"""Diarization error rate: how far speaker turns are from a reference, frame by frame."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lipdub.diarize.base import SpeakerTurn

__all__ = ["DiarizationError", "diarization_error"]


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
    step_s: float = 0.01,
) -> DiarizationError:
    """Score ``hypothesis`` against ``reference`` (no overlap handling beyond frames).

    Args:
        reference: The true turns.
        hypothesis: The turns found.
        collar_s: Time not scored on each side of every reference boundary.
        step_s: Frame length of the comparison.

    Example:
        >>> ref = [SpeakerTurn(0, 2, "A"), SpeakerTurn(2, 4, "B")]
        >>> hyp = [SpeakerTurn(0, 2.5, "S1"), SpeakerTurn(2.5, 4, "S2")]
        >>> e = diarization_error(ref, hyp)
        >>> round(e.rate, 3), e.mapping
        (0.125, {'S1': 'A', 'S2': 'B'})
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
