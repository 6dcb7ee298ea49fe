"""Chatterbox multilingual: zero-shot voice cloning in 23 languages (``--tts chatterbox``).

:class:`ChatterboxVoiceSynth` drives Resemble AI's Chatterbox multilingual model (MIT
code and weights) through its own Python API, ``ChatterboxMultilingualTTS`` from the
``chatterbox`` package (the ``chatterbox-tts`` or ``chatterbox-light`` distributions).
The weights (``ResembleAI/chatterbox``: the T3 text-to-token model
``t3_mtl23ls_v2.safetensors``, the S3Gen vocoder ``s3gen.pt``, the voice encoder
``ve.pt``, the tokenizer and the built-in voice ``conds.pt``) come through lipdub's
weights catalogue (``lipdub weights download chatterbox``; size and sha256 not recorded).

Each reference clip is turned into the model's conditioning once
(``prepare_conditionals``) and reused while the same clip is asked for again, so a
speaker's lines in one batch share it. Without a reference the built-in voice speaks.
The model has no speaking-rate control: the timing fit time-stretches its output.

Installing: the ``chatterbox`` package needs ``torchaudio`` built for the installed
torch; there is no torchaudio release for torch 2.13 (the newest, 2.11.1, pins torch
2.11), so lipdub's own set-up does not install it and its tests drive this adapter with a
stand-in engine. The upstream ``chatterbox-tts`` marks its output with Resemble's Perth
watermark inside ``generate``; ``chatterbox-light`` leaves that out.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from lipdub._deps import parse_device, require_modules
from lipdub._hashing import clip_key
from lipdub.errors import InputError, UnknownLanguageError
from lipdub.types import AudioClip, Voice
from lipdub.voice.base import VoiceSynth

__all__ = ["LANGUAGES", "ChatterboxEngine", "ChatterboxVoiceSynth"]

#: The languages of the multilingual model (its ``language_id`` codes).
LANGUAGES: tuple[str, ...] = (
    "ar", "da", "de", "el", "en", "es", "fi", "fr", "he", "hi", "it", "ja",
    "ko", "ms", "nl", "no", "pl", "pt", "ru", "sv", "sw", "tr", "zh",
)  # fmt: skip

_VOICE = "chatterbox"  # the built-in voice (conds.pt)


class ChatterboxEngine(Protocol):
    """What the adapter uses of ``chatterbox.mtl_tts.ChatterboxMultilingualTTS``."""

    sr: int
    conds: Any

    def prepare_conditionals(self, wav_fpath: str, exaggeration: float = 0.5) -> None:
        """Make the conditioning of the voice in ``wav_fpath`` the current one."""
        ...

    def generate(
        self,
        text: str,
        language_id: str,
        audio_prompt_path: str | None = None,
        exaggeration: float = 0.5,
        cfg_weight: float = 0.5,
        temperature: float = 0.8,
    ) -> Any:
        """Speech of ``text`` in the current voice: a ``(1, N)`` tensor at ``sr``."""
        ...


class ChatterboxVoiceSynth(VoiceSynth):
    """Speaks in the voice of a reference clip with Chatterbox multilingual.

    Args:
        model: The catalogue name (``"chatterbox"``, fetched on first use) or a local
            folder holding the checkpoint files.
        engine: A ready ``ChatterboxMultilingualTTS`` (or any object with its
            ``generate``/``prepare_conditionals``/``sr``/``conds``); None loads
            ``model``.
        device: Torch device (None: CUDA when available).
        exaggeration: Emotion exaggeration of the model (0.5 neutral).
        cfg_weight: Classifier-free guidance weight.
        temperature: Sampling temperature.
        seed: Seeds torch before each line, so the same line comes out the same.
        local_files_only: Never download the weights.

    Example:
        >>> ChatterboxVoiceSynth().clones, ChatterboxVoiceSynth.native_rate
        (True, False)
    """

    name: ClassVar[str] = "chatterbox"
    clones: ClassVar[bool] = True

    def __init__(
        self,
        model: str | os.PathLike[str] = "chatterbox",
        *,
        engine: ChatterboxEngine | None = None,
        device: str | None = None,
        exaggeration: float = 0.5,
        cfg_weight: float = 0.5,
        temperature: float = 0.8,
        seed: int = 0,
        local_files_only: bool = False,
    ) -> None:
        if not 0.0 <= exaggeration <= 2.0:
            raise InputError(f"exaggeration must be within 0..2, got {exaggeration}")
        if not 0.0 <= cfg_weight <= 1.0:
            raise InputError(f"cfg_weight must be within 0..1, got {cfg_weight}")
        if not 0.05 <= temperature <= 5.0:
            raise InputError(f"temperature must be within 0.05..5, got {temperature}")
        self.model = os.fspath(model)
        self.device = device
        self.exaggeration = float(exaggeration)
        self.cfg_weight = float(cfg_weight)
        self.temperature = float(temperature)
        self.seed = int(seed)
        self.local_files_only = local_files_only
        self._engine = engine
        self._default_conds: Any = engine.conds if engine is not None else None
        self._current: str | None = None  # digest of the prepared reference
        self._lock = threading.Lock()

    def settings(self) -> dict[str, Any]:
        """The model (or the injected engine's class) and the sampling options."""
        model = self.model if self._engine is None else type(self._engine).__qualname__
        return {
            "model": model,
            "exaggeration": self.exaggeration,
            "cfg_weight": self.cfg_weight,
            "temperature": self.temperature,
            "seed": self.seed,
        }

    def list_voices(self, language: str | None = None) -> list[Voice]:
        """One voice, the built-in one; a reference clip gives any other."""
        from lipdub.languages import base_language

        if language is not None and base_language(language) not in LANGUAGES:
            return []
        return [Voice(_VOICE, LANGUAGES, "unknown", 24000, "chatterbox", self.name)]

    def _load(self) -> ChatterboxEngine:
        if self._engine is None:
            require_modules(self.name, "the chatterbox voice", "chatterbox", extra="clone")
            from chatterbox.mtl_tts import ChatterboxMultilingualTTS

            folder = Path(self.model)
            if not folder.is_dir():
                from lipdub.hub.download import resolve_weights

                folder = resolve_weights(self.model, local_files_only=self.local_files_only)
            self._engine = ChatterboxMultilingualTTS.from_local(folder, parse_device(self.device))
            self._default_conds = self._engine.conds
        return self._engine

    def _language(self, language: str | None) -> str:
        from lipdub.languages import base_language

        code = base_language(language) if language else "en"
        if code not in LANGUAGES:
            raise UnknownLanguageError(
                f"Chatterbox multilingual does not speak {language!r}",
                backend=self.name,
                hint=f"it speaks {', '.join(LANGUAGES)}; use --tts match for others",
            )
        return code

    def _use(self, engine: ChatterboxEngine, reference: AudioClip | None) -> None:
        """Make ``reference`` (or the built-in voice) the engine's current voice."""
        digest = clip_key(reference) if reference is not None else None
        if digest == self._current:
            return
        if reference is None:
            engine.conds = self._default_conds
        else:
            with tempfile.TemporaryDirectory() as tmp:
                path = reference.resample(24000).save_wav(Path(tmp) / "reference.wav")
                engine.prepare_conditionals(str(path), exaggeration=self.exaggeration)
        self._current = digest

    def synthesize(
        self,
        text: str,
        *,
        voice: str | None = None,
        language: str | None = None,
        rate: float = 1.0,
        reference: AudioClip | None = None,
    ) -> AudioClip:
        """Speak ``text`` in ``reference``'s voice (the built-in voice without one).

        ``rate`` is applied by a pitch-keeping time-stretch (the model has none).
        """
        if voice not in (None, _VOICE):
            raise InputError(
                f"Chatterbox has one built-in voice, {_VOICE!r}, not {voice!r}",
                backend=self.name,
                hint="give a reference clip for any other voice",
            )
        if not rate > 0:
            raise InputError(f"rate must be > 0, got {rate}")
        lang = self._language(language)
        if not text.strip():
            return AudioClip(np.zeros(0, np.float32), 24000)
        import torch

        with self._lock:
            engine = self._load()
            self._use(engine, reference)
            torch.manual_seed(self.seed)
            wav = engine.generate(
                text,
                language_id=lang,
                exaggeration=self.exaggeration,
                cfg_weight=self.cfg_weight,
                temperature=self.temperature,
            )
            rate_hz = int(engine.sr)
        samples = torch.as_tensor(wav).detach().cpu().numpy()
        clip = AudioClip(np.clip(samples.reshape(-1), -1.0, 1.0).astype(np.float32), rate_hz)
        if abs(rate - 1.0) > 1e-3:
            from lipdub.audio.dsp import time_stretch

            clip = time_stretch(clip, rate)
        return clip
