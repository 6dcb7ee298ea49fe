"""How long a voice takes to say a text: :func:`predictor_for` gives a voice's
:class:`~lipdub.types.fit.SpeechLength` (the dub's time budgets are told in it)."""

from __future__ import annotations

from lipdub.types.fit import SpeechLength
from lipdub.voice.base import VoiceSynth

__all__ = ["predictor_for"]


def predictor_for(synth: VoiceSynth, *, language: str, voice: str | None = None) -> SpeechLength:
    """The speech-length predictor of ``synth`` speaking ``language`` with ``voice``.

    Today a fixed rate of 14 characters a second for every voice.

    Example:
        >>> from lipdub.testing import FakeVoiceSynth
        >>> predictor_for(FakeVoiceSynth(), language="es").voice
        'fake:es'
    """
    return SpeechLength(f"{synth.name}:{voice or language}")
