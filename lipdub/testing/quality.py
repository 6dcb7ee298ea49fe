"""Voices for testing the quality checks.

:class:`ReferenceEchoVoiceSynth` clones *who* speaks perfectly (it plays back the
reference clip), so a line spoken from the wrong reference must be caught.

A faulty voice: it drops every third word of what it is told.

:class:`WordDroppingVoiceSynth` wraps a real voice (espeak-ng by default) and speaks
each text without its 3rd, 6th, 9th... word, the way a neural voice skips words. The
dub's quality stage must catch its lines (a high CER by back-transcription), retry
them, and flag them ``review`` when the retake is no better.

:func:`speaker_references` cuts each speaker's reference clip out of a recording whose
turns are known (``tests/data/two_speakers.{wav,json}``): what the speaker check
compares a cloned line with.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from lipdub.errors import InputError
from lipdub.types import AudioClip, Voice
from lipdub.typing import PathLike
from lipdub.voice.base import VoiceSynth

__all__ = [
    "ReferenceEchoVoiceSynth",
    "WordDroppingVoiceSynth",
    "drop_every",
    "speaker_references",
]


def drop_every(text: str, n: int = 3) -> str:
    """``text`` without its ``n``-th, ``2n``-th... words.

    Example:
        >>> drop_every("one two three four five six seven")
        'one two four five seven'
    """
    return " ".join(w for i, w in enumerate(text.split(), 1) if i % n)


def speaker_references(
    recording: PathLike, turns: PathLike, speakers: Mapping[str, str]
) -> dict[str, AudioClip]:
    """Each speaker's turns of ``recording``, joined in order: a reference clip each.

    Args:
        recording: A mono WAV file.
        turns: A JSON list of ``{"start_s", "end_s", "speaker"}`` (the form of
            ``tests/data/two_speakers.json``).
        speakers: The clip's label -> the speaker of ``turns`` it is cut from, e.g.
            ``{"S1": "A", "S2": "B"}``.

    Raises:
        InputError: a speaker has no turn in ``turns``.

    Example:
        >>> import json, tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> _ = AudioClip(np.full(64000, 0.1, np.float32), 16000).save_wav(d / "call.wav")
        >>> said = [{"start_s": 0.0, "end_s": 1.0, "speaker": "A"},
        ...         {"start_s": 1.5, "end_s": 2.0, "speaker": "B"},
        ...         {"start_s": 2.0, "end_s": 3.5, "speaker": "A"}]
        >>> _ = (d / "call.json").write_text(json.dumps(said))
        >>> refs = speaker_references(d / "call.wav", d / "call.json", {"S1": "A", "S2": "B"})
        >>> {label: clip.duration_s for label, clip in refs.items()}
        {'S1': 2.5, 'S2': 0.5}
    """
    wav = AudioClip.load_wav(recording)
    rate = wav.sample_rate_hz
    said = json.loads(Path(turns).read_text(encoding="utf-8"))
    out = {}
    for label, speaker in speakers.items():
        parts = [
            wav.samples[round(t["start_s"] * rate) : round(t["end_s"] * rate)]
            for t in said
            if t["speaker"] == speaker
        ]
        if not parts:
            raise InputError(
                f"speaker {speaker!r} has no turn",
                path=Path(turns),
                hint=f"name one of {sorted({t['speaker'] for t in said})}",
            )
        out[label] = AudioClip(np.concatenate(parts).astype(np.float32), rate)
    return out


class WordDroppingVoiceSynth(VoiceSynth):
    """Speaks with ``base`` but drops every ``every``-th word (see the module docstring).

    Example:
        >>> from lipdub.testing import FakeVoiceSynth
        >>> voice = WordDroppingVoiceSynth(FakeVoiceSynth())
        >>> round(voice.synthesize("one two three four", language="en").duration_s, 1)
        0.9
    """

    name: ClassVar[str] = "word-dropping"

    def __init__(self, base: VoiceSynth | None = None, every: int = 3) -> None:
        if base is None:
            from lipdub.voice.espeak import EspeakVoiceSynth

            base = EspeakVoiceSynth()
        self.base = base
        self.every = every

    @property
    def native_rate(self) -> bool:  # type: ignore[override]
        """As the base voice."""
        return self.base.native_rate

    def settings(self) -> dict[str, Any]:
        """The base voice and which words are dropped."""
        return {"base": [self.base.name, self.base.settings()], "every": self.every}

    def synthesize(
        self,
        text: str,
        *,
        voice: str | None = None,
        language: str | None = None,
        rate: float = 1.0,
        reference: AudioClip | None = None,
    ) -> AudioClip:
        """The base voice saying ``text`` without every ``every``-th word."""
        self.refuse_reference(reference)
        return self.base.synthesize(
            drop_every(text, self.every), voice=voice, language=language, rate=rate
        )

    def list_voices(self, language: str | None = None) -> list[Voice]:
        """The base voice's."""
        return self.base.list_voices(language)


class ReferenceEchoVoiceSynth(VoiceSynth):
    """A perfect clone of who speaks, not of what is said: it plays back the reference.

    Each text becomes ``seconds_per_word`` of the reference clip per word (from a
    point picked by the text, wrapping around), so the line has exactly the
    reference speaker's voice. Without a reference it hums like
    :class:`~lipdub.testing.FakeVoiceSynth`. For testing speaker-similarity checks.

    Example:
        >>> ref = AudioClip(np.sin(np.arange(48000) / 10).astype(np.float32), 16000)
        >>> round(ReferenceEchoVoiceSynth().synthesize("a b", reference=ref).duration_s, 1)
        0.6
    """

    name: ClassVar[str] = "reference-echo"
    clones: ClassVar[bool] = True

    def __init__(self, seconds_per_word: float = 0.3) -> None:
        self.seconds_per_word = seconds_per_word

    def settings(self) -> dict[str, Any]:
        """Speech length per word."""
        return {"seconds_per_word": self.seconds_per_word}

    def synthesize(
        self,
        text: str,
        *,
        voice: str | None = None,
        language: str | None = None,
        rate: float = 1.0,
        reference: AudioClip | None = None,
    ) -> AudioClip:
        """The reference played back for ``words * seconds_per_word / rate`` seconds."""
        if reference is None or reference.num_samples == 0:
            from lipdub.testing import FakeVoiceSynth

            return FakeVoiceSynth(self.seconds_per_word).synthesize(text, rate=rate)
        rate_hz = reference.sample_rate_hz
        n = round(max(1, len(text.split())) * self.seconds_per_word / rate * rate_hz)
        start = zlib.crc32(text.encode()) % reference.num_samples
        idx = (start + np.arange(n)) % reference.num_samples
        return AudioClip(reference.samples[idx].astype(np.float32), rate_hz)

    def list_voices(self, language: str | None = None) -> list[Voice]:
        """One voice, its own."""
        return [Voice("echo", ("en",))]
