"""The :class:`Transcriber` interface: speech audio in, timed transcript out."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence

from lipdub.component import Component
from lipdub.events import EventCallback
from lipdub.types import AudioClip, Transcript

__all__ = ["Transcriber"]


class Transcriber(Component):
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

    @abstractmethod
    def transcribe(
        self,
        audio: AudioClip,
        language: str | None = None,
        *,
        on_event: EventCallback | None = None,
    ) -> Transcript:
        """Transcribe ``audio``.

        Args:
            audio: Mono speech at any rate (backends resample as they need; 16 kHz is
                cheapest).
            language: BCP-47 code of the spoken language, or None to detect it where
                the backend can.
            on_event: Receives :class:`~lipdub.events.Progress` events (stage
                ``"transcribe"``) where the backend can report them. Exceptions it
                raises (:class:`~lipdub.errors.Cancelled`) must propagate: that is
                how a caller stops a long transcription.

        Returns:
            A transcript whose segment times are seconds from the start of ``audio``.
        """

    def transcribe_many(
        self,
        clips: Sequence[AudioClip],
        language: str | None = None,
        *,
        on_event: EventCallback | None = None,
    ) -> list[Transcript]:
        """Transcribe several clips; the default loops over :meth:`transcribe`."""
        return [self.transcribe(c, language, on_event=on_event) for c in clips]
