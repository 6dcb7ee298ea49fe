"""The :class:`Translator` interface: texts in one language to another, one-to-one."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence

from lipdub.component import Component
from lipdub.errors import InputError
from lipdub.types import Transcript

__all__ = ["Translator"]


class Translator(Component):
    """Translates a batch of texts, keeping their boundaries: one output per input.

    Example:
        >>> from lipdub.testing import FakeTranslator
        >>> FakeTranslator().translate(["hello"], "en", "es")
        ['[es] hello']
    """

    @abstractmethod
    def translate(self, texts: Sequence[str], source: str | None, target: str) -> list[str]:
        """Translate ``texts`` from ``source`` (None: detect) to ``target`` (BCP-47 codes).

        Returns:
            Exactly ``len(texts)`` strings, in the same order.
        """

    def translate_transcript(self, transcript: Transcript, target: str) -> Transcript:
        """The transcript with every segment's text translated; timing and speakers kept."""
        texts = [s.text for s in transcript.segments]
        out = self.translate(texts, transcript.language, target) if texts else []
        if len(out) != len(texts):
            raise InputError(
                f"translator {self.name!r} returned {len(out)} texts for {len(texts)} segments",
                backend=self.name,
            )
        return transcript.with_texts(out, language=target)
