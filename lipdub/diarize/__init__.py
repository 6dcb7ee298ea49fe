"""Who speaks when: the :class:`Diarizer` interface and speaker labels for transcripts."""

from lipdub.diarize.base import Diarizer, SpeakerTurn, label_segments

__all__ = ["Diarizer", "SpeakerTurn", "label_segments"]
