"""Test translators for the timing fit: one that writes far too much, and one that is
length-aware and records the budgets it is given.

* :class:`WordyTranslator` (``"wordy"``) writes each line ``factor`` times over, so a
  dub of it has lines too long for their time.
* :class:`FittingTranslator` (``"fitting"``) declares
  :attr:`~lipdub.translate.base.Translator.length_aware`: it tags each line like
  :class:`~lipdub.testing.FakeTranslator`, drops trailing words until the line is
  predicted to fit its budget at ``max_rate``, and keeps every
  :class:`~lipdub.types.fit.FitRequest` it was given in :attr:`FittingTranslator.fits`.

Example:
    >>> from lipdub.types.fit import FitRequest, LineBudget, SpeechLength
    >>> WordyTranslator().translate(["Hi there."], "en", "es")
    ['[es] Hi there. Hi there. Hi there.']
    >>> fit = FitRequest((LineBudget(1.0, 1.0),), SpeechLength("v", per_unit_s=0.1))
    >>> FittingTranslator().translate_fitted(["one two three four five"], "en", "es", fit)
    ['[es] one two']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from lipdub.errors import InputError
from lipdub.translate.base import Translator
from lipdub.types.fit import FitRequest

__all__ = ["FittingTranslator", "WordyTranslator"]


class WordyTranslator(Translator):
    """Writes every text ``factor`` times, tagged with the target: ``"[es] hi hi hi"``."""

    name: ClassVar[str] = "wordy"

    def __init__(self, factor: int = 3) -> None:
        if factor < 1:
            raise InputError(f"WordyTranslator needs factor >= 1, got {factor}")
        self.factor = factor

    def settings(self) -> dict[str, Any]:
        """How many times each text is written."""
        return {"factor": self.factor}

    def translate(self, texts: Sequence[str], source: str | None, target: str) -> list[str]:
        """``"hi"`` -> ``"[es] hi hi hi"`` (``factor`` 3)."""
        return [f"[{target}] " + " ".join([t] * self.factor) for t in texts]


class FittingTranslator(Translator):
    """A length-aware fake: tags each text and cuts it to its time budget.

    Without a budget (:meth:`translate`) it is :class:`~lipdub.testing.FakeTranslator`.
    """

    name: ClassVar[str] = "fitting"
    length_aware: ClassVar[bool] = True

    def __init__(self) -> None:
        #: Every :class:`~lipdub.types.fit.FitRequest` received, in order.
        self.fits: list[FitRequest] = []

    def settings(self) -> dict[str, Any]:
        """No options."""
        return {}

    def translate(self, texts: Sequence[str], source: str | None, target: str) -> list[str]:
        """``"hello"`` -> ``"[es] hello"``."""
        return [f"[{target}] {t}" for t in texts]

    def translate_fitted(
        self, texts: Sequence[str], source: str | None, target: str, fit: FitRequest
    ) -> list[str]:
        """Each tagged text less its last words until ``fit`` predicts it fits at
        ``max_rate`` (one word at least)."""
        self.fits.append(fit)
        out = []
        for i, text in enumerate(self.translate(texts, source, target)):
            words = text.split()
            while len(words) > 2 and not fit.fits(i, " ".join(words), rate=fit.max_rate):
                words.pop()
            out.append(" ".join(words))
        return out
