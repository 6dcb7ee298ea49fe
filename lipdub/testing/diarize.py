"""A diarizer stand-in that finds the turns it was given, for tests of what follows it.

Example:
    >>> from lipdub.diarize import SpeakerTurn
    >>> from lipdub.types import AudioClip
    >>> d = FixedTurnsDiarizer([SpeakerTurn(0.0, 1.0, "S1"), SpeakerTurn(1.0, 2.0, "S2")])
    >>> [t.speaker for t in d.diarize(AudioClip.silence(2.0, 16000))]
    ['S1', 'S2']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from lipdub.diarize.base import Diarizer, SpeakerTurn
from lipdub.events import EventCallback
from lipdub.types import AudioClip

__all__ = ["FixedTurnsDiarizer"]


class FixedTurnsDiarizer(Diarizer):
    """Returns the same turns for any audio (those past its end are dropped).

    Args:
        turns: The turns to find, sorted by start, not overlapping.
        num_speakers: The count it was asked for (recorded; the turns stay as given).
    """

    name: ClassVar[str] = "fixed_turns"

    def __init__(self, turns: Sequence[SpeakerTurn], num_speakers: int | None = None) -> None:
        self.turns = tuple(turns)
        self.num_speakers = num_speakers

    def settings(self) -> dict[str, Any]:
        """The turns (they are the output)."""
        return {"turns": [(t.start_s, t.end_s, t.speaker) for t in self.turns]}

    def diarize(
        self,
        audio: AudioClip,
        *,
        num_speakers: int | None = None,
        on_event: EventCallback | None = None,
    ) -> list[SpeakerTurn]:
        """The given turns that start inside ``audio``."""
        return [t for t in self.turns if t.start_s < audio.duration_s]
