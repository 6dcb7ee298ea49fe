"""Machine-translation backends. The interface is :class:`Translator`."""

from lipdub.translate.base import Translator

__all__ = ["Translator"]
