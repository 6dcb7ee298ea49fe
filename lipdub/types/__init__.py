"""Frozen value types that flow between lipdub's stages.

Everything a stage hands to the next one is one of these dataclasses, never a loose
dict: :class:`AudioClip` (samples + their rate), :class:`Word` and :class:`Segment`
(timed text), :class:`Transcript` (a language + segments), :class:`FaceBox` (a face in a
frame), :class:`VideoInfo` (what a probe learns about a file) and :class:`Voice` (a voice
a :class:`~lipdub.VoiceSynth` offers). Each validates its invariants in ``__post_init__``
and raises :class:`~lipdub.errors.InputError` naming the field. Numpy arrays inside them
are made read-only; derive new values with :func:`dataclasses.replace` or the helpers.

Units are in the field names: ``start_s`` (seconds), ``sample_rate_hz``, ``fps``.
"""

from lipdub.types.audio import AudioClip
from lipdub.types.faces import FaceBox
from lipdub.types.fit import FitRequest, LineBudget, SpeechLength
from lipdub.types.media import VideoInfo
from lipdub.types.transcript import (
    Segment,
    Transcript,
    Word,
    check_segment_lengths,
    check_segments_within,
)
from lipdub.types.voice import Gender, Voice

__all__ = [
    "AudioClip",
    "FaceBox",
    "FitRequest",
    "Gender",
    "LineBudget",
    "Segment",
    "SpeechLength",
    "Transcript",
    "VideoInfo",
    "Voice",
    "Word",
    "check_segment_lengths",
    "check_segments_within",
]
