"""The ``identity`` translator: returns every text unchanged.

For re-voicing in the same language: dub a video with another voice (or fix its
timing) without translating it. Registered under the built-in name ``"identity"``, so
``DubbingPipeline(translator="identity")`` and ``lipdub dub --translator identity`` use
it. It needs no model, no network and no extra.

Example:
    >>> from lipdub import registry
    >>> tr = registry.resolve("translator", "identity")
    >>> tr.translate(["Hola.", "¿Qué tal?"], "es", "es")
    ['Hola.', '¿Qué tal?']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from lipdub.translate.base import Translator

__all__ = ["IdentityTranslator"]


class IdentityTranslator(Translator):
    """Returns the texts unchanged (for re-voicing in the same language).

    The target language is not checked: the transcript is re-labelled with whatever
    ``target`` is asked for, and its texts are kept as they are.
    """

    name: ClassVar[str] = "identity"

    def settings(self) -> dict[str, Any]:
        """No options."""
        return {}

    def translate(self, texts: Sequence[str], source: str | None, target: str) -> list[str]:
        """The input texts, as a new list."""
        return list(texts)
