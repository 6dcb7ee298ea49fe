"""Cloning stand-ins: a voice that records the reference each line got, and a fake
Chatterbox engine, so the cloning paths run without a model.

:class:`RecordingCloneVoice` (registered as ``"fake_clone"`` by
:func:`~lipdub.testing.register_fakes`) is a cloning :class:`~lipdub.voice.base.VoiceSynth`
that speaks a tone per word whose pitch follows the reference it was given, and records
``(text, reference hash)`` for every line it speaks: in :attr:`RecordingCloneVoice.heard`,
and as JSON lines in the file ``log`` names (for a dub run from the command line, where
the test never holds the instance).

:class:`FakeChatterboxEngine` has the part of ``ChatterboxMultilingualTTS``'s API that
:class:`~lipdub.voice.chatterbox.ChatterboxVoiceSynth` uses (``sr``, ``conds``,
``prepare_conditionals``, ``generate``). It "speaks" a harmonic buzz of 0.3 s per word
at the median pitch of the prepared reference (120 Hz for its own voice), with a small
torch-seeded jitter, so a test can tell which reference a line was spoken in.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from lipdub._hashing import clip_key
from lipdub.types import AudioClip, Voice
from lipdub.voice.base import VoiceSynth

__all__ = ["FakeChatterboxEngine", "RecordingCloneVoice"]


class RecordingCloneVoice(VoiceSynth):
    """A cloning voice for tests: records which reference clip each line was spoken in.

    Each word is 0.3 s of tone at 24 kHz, at a pitch taken from the reference's hash
    (its own 150 Hz without one), so two references give two voices. Every call appends
    ``(text, clip_key(reference) or None)`` to :attr:`heard` and, when ``log`` is given,
    a JSON line ``{"text": ..., "reference": ...}`` to that file (the hash is
    :func:`lipdub._hashing.clip_key` of the clip as the voice got it). No native rate:
    the dub fits its lines by time-stretch, as it does a real cloning voice's.

    Args:
        log: A file to append a JSON line to per line spoken (None: :attr:`heard` only).
            Where the record goes does not change the speech: not a setting.
        seconds_per_word: Speech length per word.

    Example:
        >>> voice = RecordingCloneVoice()
        >>> ref = AudioClip.silence(1.0, 24000)
        >>> round(voice.synthesize("hola a todos", reference=ref).duration_s, 2)
        0.9
        >>> voice.heard == [("hola a todos", clip_key(ref))]
        True
    """

    name: ClassVar[str] = "fake_clone"
    clones: ClassVar[bool] = True
    sample_rate_hz: ClassVar[int] = 24000

    def __init__(self, log: str | None = None, seconds_per_word: float = 0.3) -> None:
        self.log = Path(log) if log else None
        self.seconds_per_word = float(seconds_per_word)
        #: ``(text, reference hash or None)`` per line spoken, in order.
        self.heard: list[tuple[str, str | None]] = []

    def settings(self) -> dict[str, Any]:
        """Speech length per word (the log's place changes no output)."""
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
        """A tone per word at the reference's pitch; the reference recorded."""
        key = clip_key(reference) if reference is not None else None
        self.heard.append((text, key))
        if self.log is not None:
            with self.log.open("a", encoding="utf-8") as f:
                f.write(json.dumps({"text": text, "reference": key}, ensure_ascii=False) + "\n")
        f0 = 150.0 if key is None else 100.0 + zlib.crc32(key.encode()) % 150
        n = round(self.seconds_per_word * self.sample_rate_hz) * max(1, len(text.split()))
        t = np.arange(n, dtype=np.float32) / self.sample_rate_hz
        wave = (
            0.3
            * np.sin(2 * np.pi * f0 * t)
            * np.sin(np.pi * (t % self.seconds_per_word) / self.seconds_per_word) ** 2
        )
        return AudioClip(wave.astype(np.float32), self.sample_rate_hz)

    def list_voices(self, language: str | None = None) -> list[Voice]:
        """One voice, ``"fake-clone"`` (the reference's, when given), for every language."""
        return [Voice("fake-clone", ("en", "es", "fr", "de"), "neutral", 24000, "tone", "fake")]


class FakeChatterboxEngine:
    """Chatterbox's engine API without the model (see the module docstring).

    Example:
        >>> from lipdub.voice.chatterbox import ChatterboxVoiceSynth
        >>> synth = ChatterboxVoiceSynth(engine=FakeChatterboxEngine())
        >>> round(synth.synthesize("uno dos", language="es").duration_s, 2)
        0.6
    """

    sr = 24000

    def __init__(self) -> None:
        self.conds: Any = {"f0": 120.0}
        #: the reference files prepared, in order
        self.prepared: list[str] = []

    def prepare_conditionals(self, wav_fpath: str, exaggeration: float = 0.5) -> None:
        """Take the median pitch of the reference as the voice."""
        from lipdub.voice.voiceprint import median_f0

        self.prepared.append(wav_fpath)
        self.conds = {"f0": median_f0(AudioClip.load_wav(wav_fpath)) or 120.0}

    def generate(
        self,
        text: str,
        language_id: str,
        audio_prompt_path: str | None = None,
        exaggeration: float = 0.5,
        cfg_weight: float = 0.5,
        temperature: float = 0.8,
    ) -> Any:
        """A ``(1, N)`` tensor: 0.3 s of buzz per word at the voice's pitch."""
        import torch

        f0 = float(self.conds["f0"]) * (1 + 0.01 * float(torch.rand(1)))
        t = torch.arange(int(0.3 * self.sr * max(1, len(text.split())))) / self.sr
        wave = sum(torch.sin(2 * torch.pi * k * f0 * t) / k for k in range(1, 6))
        env = torch.sin(torch.pi * (t % 0.3) / 0.3) ** 2 * 0.3
        return (env * wave / 2.3).unsqueeze(0)
