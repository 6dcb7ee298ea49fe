"""The :class:`Separator` interface: split a mix into voice and background."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from lipdub.component import Component
from lipdub.events import EventCallback
from lipdub.types import AudioClip

__all__ = ["Separation", "Separator"]


@dataclass(frozen=True, slots=True)
class Separation:
    """The two stems of a mix, same rate and length as the input."""

    voice: AudioClip
    background: AudioClip


class Separator(Component):
    """Splits audio into the voice and everything else (music, ambience, effects).

    ``speech_spans`` (seconds) tell the separator where the original speech is; a
    model-based backend may ignore them, the DSP fallback relies on them.

    ``isolates_voice`` says whether the voice stem is the voice alone (a model such as
    Demucs), good enough for speaker analysis; a DSP separator's voice stem is the mix
    inside the speech spans, so the pipeline analyses the source instead.
    """

    #: True when :attr:`Separation.voice` is the isolated voice (music and noise removed).
    isolates_voice: ClassVar[bool] = False

    @abstractmethod
    def separate(
        self,
        audio: AudioClip,
        speech_spans: Sequence[tuple[float, float]] = (),
        *,
        on_event: EventCallback | None = None,
    ) -> Separation:
        """Return the voice and background stems of ``audio``.

        ``on_event`` receives :class:`~lipdub.events.Progress` events (stage
        ``"separate"``) where the backend has progress to report (a model working
        through a long track); exceptions it raises (:class:`~lipdub.errors.Cancelled`)
        must propagate.
        """
