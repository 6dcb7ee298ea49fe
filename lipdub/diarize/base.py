"""The :class:`Diarizer` interface: speaker turns in a recording.

Labelling a transcript with those turns is :mod:`lipdub.diarize.assign`.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass

from lipdub.component import Component
from lipdub.errors import InputError
from lipdub.events import EventCallback
from lipdub.types import AudioClip

__all__ = ["Diarizer", "SpeakerTurn"]


@dataclass(frozen=True, slots=True)
class SpeakerTurn:
    """One speaker talking from ``start_s`` to ``end_s`` (seconds).

    Example:
        >>> SpeakerTurn(0.0, 1.5, "S1").duration_s
        1.5
    """

    start_s: float
    end_s: float
    speaker: str

    def __post_init__(self) -> None:
        if not 0 <= self.start_s <= self.end_s:
            raise InputError(f"a turn needs 0 <= start <= end, got {self.start_s}..{self.end_s}")
        if not self.speaker:
            raise InputError("a turn needs a speaker label")

    @property
    def duration_s(self) -> float:
        """Length of the turn in seconds."""
        return self.end_s - self.start_s


class Diarizer(Component):
    """Finds who speaks when in a recording.

    Labels are opaque and stable within one result (``"S1"``, ``"S2"``... in order of
    first appearance); turns are sorted by start and do not overlap.

    Attributes:
        num_speakers: How many speakers the diarizer was built to find (None: as many
            as it hears). A diarizer taking a count sets it; the dub says so when fewer
            were told apart.
    """

    num_speakers: int | None = None

    def fewer_found_hint(self) -> str | None:
        """What to try when fewer than :attr:`num_speakers` were told apart (one phrase,
        or None: nothing this diarizer offers). The dub adds it to its notice."""
        return None

    @abstractmethod
    def diarize(
        self,
        audio: AudioClip,
        *,
        num_speakers: int | None = None,
        on_event: EventCallback | None = None,
    ) -> list[SpeakerTurn]:
        """The speaker turns of ``audio``.

        Args:
            audio: The recording (the isolated voice is best).
            num_speakers: How many speakers there are, when known (None: find out).
            on_event: Receives progress events (stage ``"diarize"``).
        """
