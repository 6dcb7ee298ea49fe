"""Speech-to-text backends. The interface is :class:`Transcriber`."""

from lipdub.transcribe.base import Transcriber

__all__ = ["Transcriber"]
