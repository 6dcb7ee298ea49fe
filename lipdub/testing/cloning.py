"""A stand-in for the Chatterbox engine, so the cloning adapter runs without its weights.

:class:`FakeChatterboxEngine` has the part of ``ChatterboxMultilingualTTS``'s API that
:class:`~lipdub.voice.chatterbox.ChatterboxVoiceSynth` uses (``sr``, ``conds``,
``prepare_conditionals``, ``generate``). It "speaks" a harmonic buzz of 0.3 s per word
at the median pitch of the prepared reference (120 Hz for its own voice), with a small
torch-seeded jitter, so a test can tell which reference a line was spoken in.
"""

from __future__ import annotations

from typing import Any

from lipdub.types import AudioClip

__all__ = ["FakeChatterboxEngine"]


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
