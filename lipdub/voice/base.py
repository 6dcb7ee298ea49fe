"""The :class:`VoiceSynth` interface: text in, speech audio out."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import ClassVar

from lipdub.component import Component
from lipdub.events import EventCallback, Progress, emit
from lipdub.types import AudioClip, Voice

__all__ = ["VoiceSynth"]


class VoiceSynth(Component):
    """Speaks text with a chosen voice (text-to-speech).

    Implement :meth:`synthesize` and :meth:`list_voices`. ``native_rate`` says whether
    the backend changes its speaking rate itself (better than stretching afterwards);
    the pipeline's timing fit asks for a rate only from backends that set it.

    Example:
        >>> from lipdub.testing import FakeVoiceSynth
        >>> clip = FakeVoiceSynth().synthesize("one two three", language="en")
        >>> round(clip.duration_s, 2)
        0.9
    """

    #: True when ``synthesize(rate=...)`` changes the speaking rate natively.
    native_rate: ClassVar[bool] = False

    @abstractmethod
    def synthesize(
        self,
        text: str,
        *,
        voice: str | None = None,
        language: str | None = None,
        rate: float = 1.0,
    ) -> AudioClip:
        """Speak ``text``.

        Args:
            text: Plain text (backends escape it as their markup needs).
            voice: A voice name from :meth:`list_voices`; None picks the backend's
                default for ``language``.
            language: BCP-47 code of the text.
            rate: Speaking rate, 1.0 normal, 1.2 = 20 % faster.

        Returns:
            Mono speech at the backend's native sample rate.
        """

    @abstractmethod
    def list_voices(self, language: str | None = None) -> list[Voice]:
        """Voices this backend offers, only those speaking ``language`` when given."""

    def synthesize_many(
        self,
        texts: Sequence[str],
        *,
        voice: str | None = None,
        language: str | None = None,
        rate: float = 1.0,
        on_event: EventCallback | None = None,
    ) -> list[AudioClip]:
        """Speak several texts, in order; the default loops over :meth:`synthesize`.

        Backends with concurrency (a cloud API) override this for speed. ``on_event``
        receives a :class:`~lipdub.events.Progress` (stage ``"speak"``, unit
        ``"utterances"``) after each text; exceptions it raises
        (:class:`~lipdub.errors.Cancelled`) must propagate.
        """
        out = []
        for i, text in enumerate(texts, 1):
            out.append(self.synthesize(text, voice=voice, language=language, rate=rate))
            emit(on_event, Progress("speak", i, len(texts), "utterances"))
        return out
