"""A length-aware test translator whose n-best lists are written by the test.

:class:`ScriptedNBestTranslator` is to length-aware translation what
:class:`~lipdub.testing.FakeTranslator` is to plain translation: no model, a known
answer. Each source text maps to its hypotheses and their scores; :meth:`translate`
returns the best-scoring one, :meth:`translate_fitted` lets
:func:`lipdub.translate.nbest.choose_fitting` choose for the time budget, exactly as
the OPUS-MT backend does, and keeps every :class:`~lipdub.types.fit.FitRequest` it was
given (``requests``) so a test can check the budgets a dub hands over.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from lipdub.errors import InputError
from lipdub.translate.base import Translator
from lipdub.translate.nbest import Hypothesis, choose_fitting
from lipdub.types.fit import FitRequest

__all__ = ["ScriptedNBestTranslator"]


class ScriptedNBestTranslator(Translator):
    """Translates by a script: source text -> ``[(hypothesis, score), ...]``.

    Args:
        script: The hypotheses of each source text, in any order; a higher score is a
            better translation. Blank texts need no entry (they translate to ``""``).

    Raises:
        InputError: a text to translate is not in the script, or an entry is empty.

    Example:
        >>> from lipdub.types.fit import FitRequest, LineBudget, SpeechLength
        >>> mt = ScriptedNBestTranslator({"Hi.": [("Hola, ¿qué tal?", -0.1), ("Hola.", -0.4)]})
        >>> mt.translate(["Hi."], "en", "es")
        ['Hola, ¿qué tal?']
        >>> fit = FitRequest((LineBudget(0.5, 0.5),), SpeechLength("v", per_unit_s=0.1))
        >>> mt.translate_fitted(["Hi."], "en", "es", fit), len(mt.requests)
        (['Hola.'], 1)
    """

    name: ClassVar[str] = "scripted_nbest"
    length_aware: ClassVar[bool] = True

    def __init__(self, script: Mapping[str, Sequence[tuple[str, float]]]) -> None:
        self.script: dict[str, tuple[Hypothesis, ...]] = {}
        for source, hyps in script.items():
            if not hyps:
                raise InputError(f"ScriptedNBestTranslator: no hypotheses for {source!r}")
            self.script[source] = tuple(Hypothesis(text, float(score)) for text, score in hyps)
        self.requests: list[FitRequest] = []
        self.calls = 0

    def settings(self) -> dict[str, Any]:
        """The script (it is the whole output)."""
        return {
            "script": {
                source: [[h.text, h.score] for h in hyps] for source, hyps in self.script.items()
            }
        }

    def hypotheses(self, text: str) -> tuple[Hypothesis, ...]:
        """The scripted hypotheses of ``text`` (the empty string's for a blank text)."""
        if not text.strip():
            return (Hypothesis("", 0.0),)
        found = self.script.get(text)
        if found is None:
            raise InputError(
                f"ScriptedNBestTranslator has no hypotheses for {text[:60]!r}",
                backend=self.name,
                hint="add the text to the script",
            )
        return found

    def translate(self, texts: Sequence[str], source: str | None, target: str) -> list[str]:
        """The best-scoring hypothesis of each text."""
        self.calls += 1
        return [max(self.hypotheses(t), key=lambda h: h.score).text for t in texts]

    def translate_fitted(
        self, texts: Sequence[str], source: str | None, target: str, fit: FitRequest
    ) -> list[str]:
        """Each text's hypothesis as :func:`~lipdub.translate.nbest.choose_fitting` picks it."""
        self.calls += 1
        self.requests.append(fit)
        if len(fit.budgets) != len(texts):
            raise InputError(f"{len(fit.budgets)} time budgets for {len(texts)} texts")
        return [choose_fitting(i, self.hypotheses(t), fit).text for i, t in enumerate(texts)]
