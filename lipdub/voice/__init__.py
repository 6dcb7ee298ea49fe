"""Text-to-speech backends. The interface is :class:`VoiceSynth`."""

from lipdub.voice.base import VoiceSynth

__all__ = ["VoiceSynth"]
