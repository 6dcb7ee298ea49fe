"""The :class:`Translator` interface: texts in one language to another, one-to-one."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from lipdub.component import Component
from lipdub.errors import InputError
from lipdub.types import Transcript
from lipdub.types.fit import FitRequest

if TYPE_CHECKING:
    from lipdub.translate.glossary import Glossary

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

    A glossary (:class:`~lipdub.translate.glossary.Glossary`) given to
    :meth:`translate_transcript` is honoured by every backend: one that sets
    :attr:`follows_glossary` gets the terms in :meth:`translate_with_glossary`; the
    others translate with the terms behind placeholders that are then replaced by the
    terms' renderings (:func:`~lipdub.translate.glossary.translate_protected`).
    """

    #: True when :meth:`translate_fitted` writes each line for its time budget.
    length_aware: ClassVar[bool] = False
    #: True when :meth:`translate_with_glossary` takes the glossary as instructions.
    follows_glossary: ClassVar[bool] = False

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

    def translate_with_glossary(
        self,
        texts: Sequence[str],
        source: str | None,
        target: str,
        glossary: Glossary,
        fit: FitRequest | None = None,
    ) -> list[str]:
        """Translate ``texts`` rendering ``glossary``'s terms as it says (and, with
        ``fit``, for the time budgets). Only for backends with :attr:`follows_glossary`;
        the base class refuses.

        Returns:
            Exactly ``len(texts)`` strings, in the same order.
        """
        raise NotImplementedError(f"translator {self.name!r} takes no glossary instructions")

    def translate_transcript(
        self,
        transcript: Transcript,
        target: str,
        *,
        fit: FitRequest | None = None,
        glossary: Glossary | None = None,
    ) -> Transcript:
        """The transcript with every segment's text translated; timing and speakers kept.

        ``fit`` (one budget per segment) goes to :meth:`translate_fitted` when the backend
        is :attr:`length_aware`; other backends ignore it. ``glossary`` is honoured by
        every backend (see the class docstring); which lines still break a term is
        :meth:`Glossary.check <lipdub.translate.glossary.Glossary.check>`'s to say.
        """
        texts = [s.text for s in transcript.segments]
        if fit is not None and len(fit.budgets) != len(texts):
            raise InputError(f"{len(fit.budgets)} time budgets for {len(texts)} segments")
        fitted = fit if self.length_aware else None
        source = transcript.language

        def plain(batch: list[str]) -> list[str]:
            if fitted is not None and len(batch) == len(texts):
                return self.translate_fitted(batch, source, target, fitted)
            return self.translate(batch, source, target)

        if not texts:
            out: list[str] = []
        elif glossary and self.follows_glossary:
            out = self.translate_with_glossary(texts, source, target, glossary, fitted)
        elif glossary:
            from lipdub.translate.glossary import translate_protected

            out = translate_protected(
                glossary, texts, plain, pieces=lambda p: self.translate(p, source, target)
            )
        else:
            out = plain(texts)
        if len(out) != len(texts):
            raise InputError(
                f"translator {self.name!r} returned {len(out)} texts for {len(texts)} segments",
                backend=self.name,
            )
        return transcript.with_texts(out, language=target)
