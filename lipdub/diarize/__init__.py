"""Who speaks when: the :class:`Diarizer` interface and speaker labels for transcripts."""

from lipdub.diarize.assign import SpeakerAssignment, assign_speakers, label_segments
from lipdub.diarize.base import Diarizer, SpeakerTurn

__all__ = ["Diarizer", "SpeakerAssignment", "SpeakerTurn", "assign_speakers", "label_segments"]
