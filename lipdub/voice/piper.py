"""Piper neural voices (VITS, ONNX) as a :class:`~lipdub.voice.base.VoiceSynth`: offline.

A Piper voice is two files, ``<voice>.onnx`` and ``<voice>.onnx.json``, named
``<lang>_<REGION>-<name>-<quality>`` (``en_US-lessac-medium``). lipdub finds a voice

1. as a path to a ``.onnx`` file (its ``.onnx.json`` beside it),
2. by name in the folders given as ``voices_dir``, then
3. by name in the Hugging Face Hub repo ``rhasspy/piper-voices`` at a pinned revision,
   at ``<lang>/<lang>_<REGION>/<name>/<quality>/<voice>.onnx``, downloaded once into the
   Hugging Face cache (20-120 MB per voice).

After that first download nothing needs the network. Voices run on CPU with
onnxruntime; piper-tts phonemizes with its own bundled espeak-ng.

Licences: piper-tts is GPL-3.0-or-later; each voice has its own licence in its model
card (many are CC0, CC-BY or MIT; some are non-commercial).

Example:
    >>> from lipdub.voice.piper import PiperVoiceSynth, hub_path
    >>> hub_path("en_US-lessac-medium")
    'en/en_US/lessac/medium/en_US-lessac-medium.onnx'
    >>> tts = PiperVoiceSynth("en_US-lessac-medium")  # doctest: +SKIP
    >>> tts.synthesize("Hello there.", rate=1.1).duration_s  # doctest: +SKIP
    0.93
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from lipdub._deps import require_modules
from lipdub.errors import (
    InputError,
    ModelNotFoundError,
    UnknownLanguageError,
)
from lipdub.hub.catalogue import (
    PIPER_REPO,
    PIPER_REVISION,
    PIPER_VOICE_NAME,
    PIPER_VOICES,
    piper_path,
    piper_spec,
)
from lipdub.types import AudioClip, Voice
from lipdub.voice.base import VoiceSynth

__all__ = ["KNOWN_VOICES", "PIPER_VOICES_REPO", "PiperVoiceSynth", "hub_path"]

logger = logging.getLogger(__name__)

#: Where the voices come from, and the known voices: data of the weights catalogue.
PIPER_VOICES_REPO = PIPER_REPO
PIPER_VOICES_REVISION = PIPER_REVISION
KNOWN_VOICES: tuple[str, ...] = PIPER_VOICES


def _parse_name(voice: str) -> re.Match[str]:
    m = PIPER_VOICE_NAME.match(voice)
    if m is None:
        raise InputError(
            f"not a Piper voice name: {voice!r}",
            backend="piper",
            hint="names look like 'en_US-lessac-medium' (<lang>_<REGION>-<name>-<quality>), "
            "or pass the path of a .onnx file",
        )
    return m


def hub_path(voice: str) -> str:
    """Path of a voice's ``.onnx`` inside ``rhasspy/piper-voices``.

    Raises:
        InputError: ``voice`` is not a ``<lang>_<REGION>-<name>-<quality>`` name.
    """
    _parse_name(voice)
    rel = piper_path(voice)
    assert rel is not None  # the name parsed
    return rel


def _bcp47(piper_code: str) -> str:
    lang, _, region = piper_code.partition("_")
    return f"{lang.lower()}-{region.upper()}" if region else lang.lower()


# Loaded voices, shared by every PiperVoiceSynth (a voice is read-only once loaded and
# onnxruntime sessions are safe to run from several threads).
_LOADED: dict[tuple[Path, bool], Any] = {}
_LOADED_LOCK = threading.Lock()


@dataclass(frozen=True)
class _VoiceFiles:
    name: str
    model: Path
    config: Path


class PiperVoiceSynth(VoiceSynth):
    """Speaks with Piper's neural voices, offline after a one-time download per voice.

    Args:
        voice: Default voice: a name (``"en_US-lessac-medium"``) or a ``.onnx``
            path. None picks a voice for each call's ``language`` from
            :data:`KNOWN_VOICES` (or from the voices found in ``voices_dir``).
        voices_dir: Folder(s) searched for ``<voice>.onnx`` + ``<voice>.onnx.json``
            before the Hub.
        revision: ``rhasspy/piper-voices`` revision (default: the pinned release tag
            ``v1.0.0``).
        cache_dir: Hub cache directory (default: the Hugging Face cache).
        local_files_only: Never download (``HF_HUB_OFFLINE=1`` does the same).
        token: Hugging Face token.
        use_cuda: Run the ONNX model on CUDA (needs onnxruntime-gpu).
        speaker: Speaker id for multi-speaker voices (None: the voice's default).
        noise_scale: Generator noise (None: the voice's default; 0 = deterministic
            but flatter).
        noise_w_scale: Phoneme-duration noise (None: the voice's default).
        normalize: Scale each result so its peak is 0.95 (Piper's raw output level
            differs between voices).
        sample_rate_hz: Resample results to this rate; None keeps the voice's own
            (22,050 Hz for medium/high voices, 16,000 Hz for low/x_low).
        sentence_pause_s: Silence between the sentences of one text.

    Raises:
        BackendNotInstalled: piper-tts or onnxruntime is missing.
        InputError: a bad option.
    """

    name: ClassVar[str] = "piper"
    native_rate: ClassVar[bool] = True

    def __init__(
        self,
        voice: str | os.PathLike[str] | None = None,
        *,
        voices_dir: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
        revision: str = PIPER_VOICES_REVISION,
        cache_dir: str | os.PathLike[str] | None = None,
        local_files_only: bool = False,
        token: str | None = None,
        use_cuda: bool = False,
        speaker: int | None = None,
        noise_scale: float | None = None,
        noise_w_scale: float | None = None,
        normalize: bool = True,
        sample_rate_hz: int | None = None,
        sentence_pause_s: float = 0.2,
    ) -> None:
        require_modules("piper", "the piper voice", "piper", "onnxruntime")
        if sample_rate_hz is not None and sample_rate_hz <= 0:
            raise InputError(f"sample_rate_hz must be > 0, got {sample_rate_hz}")
        if sentence_pause_s < 0:
            raise InputError(f"sentence_pause_s must be >= 0, got {sentence_pause_s}")
        self.voice = os.fspath(voice) if voice is not None else None
        if isinstance(voices_dir, (str, os.PathLike)):
            dirs = [voices_dir]
        else:
            dirs = list(voices_dir or [])
        self.voices_dirs = [Path(d).expanduser() for d in dirs]
        self.revision = revision
        self.cache_dir = os.fspath(cache_dir) if cache_dir is not None else None
        self.local_files_only = local_files_only
        self.token = token
        self.use_cuda = use_cuda
        self.speaker = speaker
        self.noise_scale = noise_scale
        self.noise_w_scale = noise_w_scale
        self.normalize = normalize
        self.sample_rate_hz = sample_rate_hz
        self.sentence_pause_s = sentence_pause_s

    def settings(self) -> dict[str, Any]:
        """The options that change the speech (JSON-ready).

        A voice given as a ``.onnx`` path is named by the sha256 of its two files (moving
        them keeps the cache); ``voices_dir`` folders, which decide the voice picked for a
        language, are listed by path. ``use_cuda``, cache folder, token and
        ``local_files_only`` are left out.
        """
        voice: dict[str, Any] | None = None
        if self.voice is not None:
            path = Path(self.voice).expanduser()
            config = path.with_name(path.name + ".json")
            if path.is_file() and config.is_file():
                from lipdub._hashing import file_sha256

                voice = {
                    "name": path.stem,
                    "files_sha256": [
                        file_sha256(path, remember=True),
                        file_sha256(config, remember=True),
                    ],
                }
            else:
                voice = {"name": self.voice}
        return {
            "voice": voice,
            "voices_dirs": [str(d.resolve()) for d in self.voices_dirs],
            "revision": self.revision,
            "speaker": self.speaker,
            "noise_scale": self.noise_scale,
            "noise_w_scale": self.noise_w_scale,
            "normalize": self.normalize,
            "sample_rate_hz": self.sample_rate_hz,
            "sentence_pause_s": self.sentence_pause_s,
        }

    # ------------------------------------------------------------------ finding voices
    def _local_voices(self) -> dict[str, _VoiceFiles]:
        found: dict[str, _VoiceFiles] = {}
        for d in self.voices_dirs:
            if not d.is_dir():
                continue
            for model in sorted(d.rglob("*.onnx")):
                config = model.with_name(model.name + ".json")
                if config.is_file():
                    found.setdefault(model.stem, _VoiceFiles(model.stem, model, config))
        return found

    def _cached(self, name: str) -> _VoiceFiles | None:
        from huggingface_hub import try_to_load_from_cache

        try:
            rel = hub_path(name)
        except InputError:
            return None
        paths = []
        for filename in (rel, rel + ".json"):
            p = try_to_load_from_cache(
                PIPER_VOICES_REPO, filename, cache_dir=self.cache_dir, revision=self.revision
            )
            if not isinstance(p, str):
                return None
            paths.append(Path(p))
        return _VoiceFiles(name, paths[0], paths[1])

    def resolve_voice(self, voice: str | os.PathLike[str]) -> _VoiceFiles:
        """The model and config files of ``voice`` (a name or a ``.onnx`` path).

        Downloads the voice from the Hub unless it is local or cached.

        Raises:
            ModelNotFoundError: a path without its ``.onnx.json``, or a name that is
                neither local nor cached and cannot be downloaded.
            InputError: ``voice`` is neither a path nor a Piper voice name.
        """
        text = os.fspath(voice)
        path = Path(text).expanduser()
        if text.endswith(".onnx") or path.is_file():
            config = path.with_name(path.name + ".json")
            if not path.is_file() or not config.is_file():
                missing = path if not path.is_file() else config
                raise ModelNotFoundError(
                    "Piper voice file missing",
                    path=missing,
                    backend=self.name,
                    hint="a Piper voice is <voice>.onnx plus <voice>.onnx.json in the same folder",
                )
            return _VoiceFiles(path.stem, path, config)
        local = self._local_voices().get(text)
        if local is not None:
            return local
        rel = hub_path(text)  # validates the name
        cached = self._cached(text)
        if cached is not None:
            return cached
        from lipdub.hub.download import fetch

        spec = piper_spec(text, revision=self.revision)
        assert spec is not None and spec.filename == rel
        model = fetch(
            spec,
            cache_dir=self.cache_dir,
            local_files_only=self.local_files_only,
            token=self.token,
            label=f"Piper voice {text!r}",
            registered=self.revision == PIPER_VOICES_REVISION,
        )
        return _VoiceFiles(text, model, model.with_name(model.name + ".json"))

    def voice_for(self, language: str | None) -> str:
        """The voice used when a call gives none: the constructor's, else one for ``language``.

        Voices found in ``voices_dir`` are preferred over :data:`KNOWN_VOICES`; an
        exact region match (``es-MX``) beats a language match (``es``).

        Raises:
            UnknownLanguageError: no local or known voice speaks ``language``.
        """
        if self.voice is not None:
            return self.voice
        if language is None:
            language = "en-US"
        voices = self.list_voices(language)
        if not voices:
            raise UnknownLanguageError(
                f"no Piper voice known for language {language!r}",
                backend=self.name,
                hint="pass voice='<lang>_<REGION>-<name>-<quality>' (see the "
                f"{PIPER_VOICES_REPO} repo) or a .onnx path",
            )
        want = language.replace("_", "-").lower()
        exact = [v for v in voices if want in (c.lower() for c in v.language_codes)]
        installed = [v for v in (exact or voices) if v.extra.get("installed")]
        return (installed or exact or voices)[0].name

    def list_voices(self, language: str | None = None) -> list[Voice]:
        """Voices in ``voices_dir`` and :data:`KNOWN_VOICES`, installed ones first.

        ``Voice.extra`` holds ``installed`` (True when usable without a download)
        and, for local voices, ``path``. Nothing is downloaded.
        """
        out: list[Voice] = []
        seen: set[str] = set()
        for files in self._local_voices().values():
            out.append(self._voice_from_config(files))
            seen.add(files.name)
        for name in KNOWN_VOICES:
            if name in seen:
                continue
            m = _parse_name(name)
            cached = self._cached(name)
            rate = 16000 if m["quality"] in ("low", "x_low") else 22050
            out.append(
                Voice(
                    name,
                    (_bcp47(f"{m['lang']}_{m['region']}"),),
                    "unknown",
                    rate,
                    f"piper-{m['quality']}",
                    "piper",
                    extra={"installed": cached is not None, "hub_path": hub_path(name)},
                )
            )
        voices = [v for v in out if v.supports(language)]
        voices.sort(key=lambda v: not v.extra.get("installed"))
        return voices

    def _voice_from_config(self, files: _VoiceFiles) -> Voice:
        try:
            config = json.loads(files.config.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            config = {}
        code = (config.get("language") or {}).get("code") or files.name.split("-")[0]
        quality = (config.get("audio") or {}).get("quality", "unknown")
        rate = (config.get("audio") or {}).get("sample_rate")
        return Voice(
            files.name,
            (_bcp47(code),),
            "unknown",
            int(rate) if rate else None,
            f"piper-{quality}",
            "piper",
            extra={"installed": True, "path": str(files.model)},
        )

    # ------------------------------------------------------------------ speech
    def _load(self, files: _VoiceFiles) -> Any:
        key = (files.model.resolve(), self.use_cuda)
        with _LOADED_LOCK:
            voice = _LOADED.get(key)
            if voice is None:
                from piper import PiperVoice

                logger.info("loading Piper voice %s from %s", files.name, files.model)
                try:
                    voice = PiperVoice.load(
                        files.model, config_path=files.config, use_cuda=self.use_cuda
                    )
                except Exception as e:  # onnxruntime and json raise many kinds
                    raise ModelNotFoundError(
                        f"cannot load Piper voice {files.name!r}: {e}",
                        path=files.model,
                        backend=self.name,
                        hint="the .onnx or .onnx.json file is damaged: delete and download "
                        "it again",
                    ) from e
                _LOADED[key] = voice
            return voice

    def synthesize(
        self,
        text: str,
        *,
        voice: str | None = None,
        language: str | None = None,
        rate: float = 1.0,
        reference: AudioClip | None = None,
    ) -> AudioClip:
        """Speak ``text``; Piper splits it into sentences itself.

        Args:
            text: Plain text.
            voice: A voice name or ``.onnx`` path; None uses :meth:`voice_for`.
            language: BCP-47 code of the text (picks the voice when none is set).
            rate: Speaking rate: the voice's ``length_scale`` is divided by it.

        Returns:
            ``(N,)`` float32 mono at the voice's rate (or ``sample_rate_hz``).

        Raises:
            InputError: ``rate`` is not positive.
            ModelNotFoundError: the voice is missing and cannot be downloaded.
        """
        self.refuse_reference(reference)
        if not rate > 0:
            raise InputError(f"rate must be > 0, got {rate}")
        files = self.resolve_voice(voice or self.voice_for(language))
        piper_voice = self._load(files)
        from piper import SynthesisConfig

        native_hz = int(piper_voice.config.sample_rate)
        config = SynthesisConfig(
            speaker_id=self.speaker,
            length_scale=float(piper_voice.config.length_scale) / rate,
            noise_scale=self.noise_scale,
            noise_w_scale=self.noise_w_scale,
            normalize_audio=False,
        )
        parts: list[np.ndarray[Any, Any]] = []
        pause = np.zeros(round(self.sentence_pause_s * native_hz), np.float32)
        if text.strip():
            for chunk in piper_voice.synthesize(text, syn_config=config):
                if parts:
                    parts.append(pause)
                parts.append(np.asarray(chunk.audio_float_array, dtype=np.float32))
        samples = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        peak = float(np.abs(samples).max()) if samples.size else 0.0
        if self.normalize and peak > 1e-6:
            samples = samples * (0.95 / peak)
        clip = AudioClip(samples.astype(np.float32), native_hz)
        return clip.resample(self.sample_rate_hz) if self.sample_rate_hz else clip

    def __repr__(self) -> str:
        return f"PiperVoiceSynth(voice={self.voice!r}, revision={self.revision!r})"
