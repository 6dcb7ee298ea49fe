"""Choosing among a translator's n-best hypotheses for a line's time budget.

A length-aware translator that can produce several translations of a line (OPUS-MT's
beam search, a scripted test double) ranks them by its own score and hands them to
:func:`choose_fitting`, which applies the dub's order of remedies:

1. the best-scoring hypothesis predicted to fit the line's budget at rate 1.0 (of
   equal scores, the shorter);
2. else the best-scoring one that fits at ``fit.max_rate`` (the timing fit may speed
   a line up that far, no further);
3. else the one predicted to come closest to fitting (the smallest length over budget;
   a tie goes to the better score).

So a shorter hypothesis wins only when the better ones do not fit: the aim is the best
translation that fits, not the shortest one.

:func:`combine_sentences` builds a line's hypotheses from its sentences' when a
translator works sentence by sentence.

Example:
    >>> from lipdub.types.fit import FitRequest, LineBudget, SpeechLength
    >>> fit = FitRequest((LineBudget(1.0, 1.0),), SpeechLength("v", per_unit_s=0.1))
    >>> hyps = [Hypothesis("a rather long line", -0.1), Hypothesis("mid line", -0.5),
    ...         Hypothesis("short", -0.9)]
    >>> choose_fitting(0, hyps, fit).text
    'mid line'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from lipdub.errors import InputError
from lipdub.types.fit import FitRequest, SpeechLength

__all__ = ["Hypothesis", "choose_fitting", "combine_sentences"]


@dataclass(frozen=True, slots=True)
class Hypothesis:
    """One candidate translation and its score (higher is better, e.g. a log-probability)."""

    text: str
    score: float

    def __post_init__(self) -> None:
        if math.isnan(self.score):
            raise InputError(f"Hypothesis score is NaN for {self.text[:40]!r}")


def choose_fitting(index: int, hypotheses: Sequence[Hypothesis], fit: FitRequest) -> Hypothesis:
    """The hypothesis line ``index`` gets under ``fit`` (the rules in the module's text).

    Raises:
        InputError: ``hypotheses`` is empty or ``index`` has no budget.
    """
    if not hypotheses:
        raise InputError(f"no hypotheses to choose from for line {index}")
    if not 0 <= index < len(fit.budgets):
        raise InputError(f"line {index} has no time budget ({len(fit.budgets)} budgets)")
    for rate in (1.0, fit.max_rate):
        fitting = [h for h in hypotheses if fit.fits(index, h.text, rate=rate)]
        if fitting:
            # equal scores: the shorter (then the first, in the engine's order)
            return max(fitting, key=lambda h: (h.score, -fit.ratio(index, h.text)))
    return min(hypotheses, key=lambda h: (fit.ratio(index, h.text), -h.score))


def combine_sentences(
    sentences: Sequence[Sequence[Hypothesis]],
    length: SpeechLength,
    *,
    joiner: str = " ",
) -> list[Hypothesis]:
    """A line's hypotheses from the hypotheses of each of its sentences, in order.

    A combination scores the sum of its sentences' scores. Of all combinations only
    those on the score/length frontier are kept (none other is both shorter and better
    scoring), which holds every combination :func:`choose_fitting` could pick; they come
    best score first. An empty ``sentences`` gives the empty line.

    Example:
        >>> from lipdub.types.fit import SpeechLength
        >>> one = [Hypothesis("Hola.", -0.1), Hypothesis("Buenas tardes.", -0.5)]
        >>> two = [Hypothesis("Adiós.", -0.2)]
        >>> [(h.text, round(h.score, 2)) for h in combine_sentences([one, two], SpeechLength("v"))]
        [('Hola. Adiós.', -0.3)]
    """
    partial: list[tuple[str, float, int]] = [("", 0.0, 0)]  # text, score, units
    for options in sentences:
        if not options:
            raise InputError("a sentence has no hypotheses")
        grown = []
        for text, score, units in partial:
            for h in options:
                joined = f"{text}{joiner}{h.text}" if text else h.text
                grown.append((joined, score + h.score, units + length.units(h.text)))
        partial = _frontier(grown)
    return [Hypothesis(text, score) for text, score, _ in partial]


def _frontier(items: list[tuple[str, float, int]]) -> list[tuple[str, float, int]]:
    """The items no other item beats on both score and units, best score first."""
    kept: list[tuple[str, float, int]] = []
    shortest = math.inf
    for item in sorted(items, key=lambda i: (-i[1], i[2])):
        if item[2] < shortest:
            kept.append(item)
            shortest = item[2]
    return kept
