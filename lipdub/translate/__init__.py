"""Machine-translation backends. The interface is :class:`Translator`; the glossary
every backend honours is :class:`Glossary`."""

from lipdub.translate.base import Translator
from lipdub.translate.glossary import Glossary

__all__ = ["Glossary", "Translator"]
