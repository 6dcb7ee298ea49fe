"""The :class:`Transcriber` interface: speech audio in, timed transcript out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

from lipdub.types import AudioClip, Transcript

__all__ = ["Transcriber"]


class Transcriber(ABC):
    """Turns speech into a :class:`~lipdub.types.Transcript` of timed segments.

    Implement :meth:`transcribe`. Backends take their options (model, credentials,
    device) in the constructor, so every backend has this same call.

    Example:
        >>> from lipdub.testing import FakeTranscriber
        >>> from lipdub.types import AudioClip
        >>> t = FakeTranscriber.from_texts(["Hello there."], language="en")
        >>> t.transcribe(AudioClip.silence(2.0, 16000)).segments[0].text
        'Hello there.'
    """

    #: Registry name of the backend (``"google"``, ``"whisper"``), for manifests and logs.
    name: ClassVar[str] = "custom"

    @abstractmethod
    def transcribe(self, audio: AudioClip, language: str | None = None) -> Transcript:
        """Transcribe ``audio``.

        Args:
            audio: Mono speech at any rate (backends resample as they need; 16 kHz is
                cheapest).
            language: BCP-47 code of the spoken language, or None to detect it where
                the backend can.

        Returns:
            A transcript whose segment times are seconds from the start of ``audio``.
        """

    def transcribe_many(
        self, clips: Sequence[AudioClip], language: str | None = None
    ) -> list[Transcript]:
        """Transcribe several clips; the default loops over :meth:`transcribe`."""
        return [self.transcribe(c, language) for c in clips]
