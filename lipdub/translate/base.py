"""The :class:`Translator` interface: texts in one language to another, one-to-one."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import ClassVar

from lipdub.component import Component
from lipdub.errors import InputError
from lipdub.types import Transcript
from lipdub.types.fit import FitRequest

__all__ = ["Translator"]


class Translator(Component):
    """Translates a batch of texts, keeping their boundaries: one output per input.

    Example:
        >>> from lipdub.testing import FakeTranslator
        >>> FakeTranslator().translate(["hello"], "en", "es")
        ['[es] hello']

    A backend that can write for the time a line has sets :attr:`length_aware` and
    implements :meth:`translate_fitted`; the dub then hands it every line's budget and
    the target voice's length predictor. The others are called with :meth:`translate`.
    """

    #: True when :meth:`translate_fitted` writes each line for its time budget.
    length_aware: ClassVar[bool] = False

    @abstractmethod
    def translate(self, texts: Sequence[str], source: str | None, target: str) -> list[str]:
        """Translate ``texts`` from ``source`` (None: detect) to ``target`` (BCP-47 codes).

        Returns:
            Exactly ``len(texts)`` strings, in the same order.
        """

    def translate_fitted(
        self, texts: Sequence[str], source: str | None, target: str, fit: FitRequest
    ) -> list[str]:
        """Translate ``texts`` so that line ``i`` fits ``fit.budgets[i]`` when spoken.

        Only for backends with :attr:`length_aware`; the base class refuses.

        Returns:
            Exactly ``len(texts)`` strings, in the same order.
        """
        raise NotImplementedError(f"translator {self.name!r} is not length-aware")

    def translate_transcript(
        self, transcript: Transcript, target: str, *, fit: FitRequest | None = None
    ) -> Transcript:
        """The transcript with every segment's text translated; timing and speakers kept.

        ``fit`` (one budget per segment) goes to :meth:`translate_fitted` when the backend
        is :attr:`length_aware`; other backends ignore it.
        """
        texts = [s.text for s in transcript.segments]
        if fit is not None and len(fit.budgets) != len(texts):
            raise InputError(f"{len(fit.budgets)} time budgets for {len(texts)} segments")
        if not texts:
            out: list[str] = []
        elif fit is not None and self.length_aware:
            out = self.translate_fitted(texts, transcript.language, target, fit)
        else:
            out = self.translate(texts, transcript.language, target)
        if len(out) != len(texts):
            raise InputError(
                f"translator {self.name!r} returned {len(out)} texts for {len(texts)} segments",
                backend=self.name,
            )
        return transcript.with_texts(out, language=target)
