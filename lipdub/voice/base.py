"""The :class:`VoiceSynth` interface: text in, speech audio out."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import ClassVar

from lipdub.component import Component
from lipdub.errors import CloningNotSupported
from lipdub.events import EventCallback, Progress, emit
from lipdub.types import AudioClip, Voice

__all__ = ["VoiceSynth"]


class VoiceSynth(Component):
    """Speaks text with a chosen voice (text-to-speech).

    Implement :meth:`synthesize` and :meth:`list_voices`. ``native_rate`` says whether
    the backend changes its speaking rate itself (better than stretching afterwards);
    the pipeline's timing fit asks for a rate only from backends that set it.

    ``clones`` says whether the backend speaks in the voice of a *reference* clip
    (``synthesize(..., reference=clip)``): the pipeline then cuts one reference per
    speaker from the source and passes it. A backend that does not clone must refuse
    a reference with :class:`~lipdub.errors.CloningNotSupported` (call
    :meth:`refuse_reference` first thing); one that clones speaks its default voice
    when given none. The conformance suite checks both.

    Example:
        >>> from lipdub.testing import FakeVoiceSynth
        >>> clip = FakeVoiceSynth().synthesize("one two three", language="en")
        >>> round(clip.duration_s, 2)
        0.9
    """

    #: True when ``synthesize(rate=...)`` changes the speaking rate natively.
    native_rate: ClassVar[bool] = False
    #: True when ``synthesize(reference=clip)`` speaks in the voice of ``clip``.
    clones: ClassVar[bool] = False

    @abstractmethod
    def synthesize(
        self,
        text: str,
        *,
        voice: str | None = None,
        language: str | None = None,
        rate: float = 1.0,
        reference: AudioClip | None = None,
    ) -> AudioClip:
        """Speak ``text``.

        Args:
            text: Plain text (backends escape it as their markup needs).
            voice: A voice name from :meth:`list_voices`; None picks the backend's
                default for ``language``.
            language: BCP-47 code of the text.
            rate: Speaking rate, 1.0 normal, 1.2 = 20 % faster.
            reference: A clip of the voice to speak in (6-15 s of clean speech is
                best); only for backends with :attr:`clones`.

        Returns:
            Mono speech at the backend's native sample rate.

        Raises:
            CloningNotSupported: ``reference`` was given to a backend that does not
                clone.
        """

    def refuse_reference(self, reference: AudioClip | None) -> None:
        """Raise :class:`~lipdub.errors.CloningNotSupported` if a non-cloning backend got one.

        Example:
            >>> from lipdub.testing import FakeVoiceSynth
            >>> FakeVoiceSynth().refuse_reference(None)  # nothing given: fine
            >>> try:
            ...     FakeVoiceSynth().refuse_reference(AudioClip.silence(1.0, 16000))
            ... except CloningNotSupported as e:
            ...     print(e.message)
            the fake voice backend speaks its own voices; it cannot clone a reference clip
        """
        if reference is not None and not self.clones:
            raise CloningNotSupported(
                f"the {self.name} voice backend speaks its own voices; it cannot clone "
                "a reference clip",
                backend=self.name,
                hint="use a cloning backend: --tts match (offline) or --tts chatterbox, "
                "or --voice clone to pick one",
            )

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
        reference: AudioClip | None = None,
        on_event: EventCallback | None = None,
    ) -> list[AudioClip]:
        """Speak several texts, in order; the default loops over :meth:`synthesize`.

        Backends with concurrency (a cloud API) override this for speed. ``reference``
        is as for :meth:`synthesize` (the same voice for every text). ``on_event``
        receives a :class:`~lipdub.events.Progress` (stage ``"speak"``, unit
        ``"utterances"``) after each text; exceptions it raises
        (:class:`~lipdub.errors.Cancelled`) must propagate.
        """
        self.refuse_reference(reference)
        # A reference is passed on only when there is one, so backends written before
        # cloning existed (no ``reference`` parameter) keep working.
        extra = {"reference": reference} if reference is not None else {}
        out = []
        for i, text in enumerate(texts, 1):
            out.append(self.synthesize(text, voice=voice, language=language, rate=rate, **extra))
            emit(on_event, Progress("speak", i, len(texts), "utterances"))
        return out
