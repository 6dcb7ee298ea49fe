"""Whisper speech recognition, offline, through faster-whisper (CTranslate2).

A model is a size name (``"tiny"``, ``"base"``, ``"small"``, ``"large-v3"``, ...) that
is downloaded once from the Hugging Face Hub (``Systran/faster-whisper-<size>``, a
pinned revision where lipdub knows one) into the Hub cache, a Hub repo id holding a
CTranslate2 conversion, or a local directory with ``model.bin`` + ``config.json`` +
``tokenizer.json``. After the first download nothing needs the network.

Word timestamps are grouped into dubbing-sized segments with
:func:`lipdub.transcribe._segment.words_to_segments` (split at sentence ends, pauses
and a maximum length), the same splitter the other transcribers use.

Reproducible: the same audio and settings give the same transcript, byte for byte, so
a work directory's transcript (and the edits made downstream of it) never "changes"
when it is made again. Decoding is pinned to ``temperature=0`` (beam search, or greedy
with ``beam_size=1``), with no fallback to sampling: faster-whisper's default retries a
hard 30 s window by *sampling* at rising temperatures, from CTranslate2's random
generator, which is seeded once per worker thread and cannot be reset between calls,
so two runs (or two calls in one process) then disagree on words, end times and
confidences. ``temperature=(0.0, 0.2, ...)`` brings the fallback back, at that cost.
CTranslate2's CPU kernels give the same numbers for any ``cpu_threads`` on one machine
(checked with 1, 2 and 4 threads), so threads are left out of the settings.

Example:
    >>> from lipdub.transcribe.whisper import WhisperTranscriber
    >>> stt = WhisperTranscriber("tiny", device="cpu")  # doctest: +SKIP
    >>> stt.transcribe(AudioClip.load_wav("hello.wav")).text  # doctest: +SKIP
    'Hello world.'
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from lipdub._deps import ctranslate2_placement, parse_device, require_modules
from lipdub.errors import (
    InputError,
    ModelNotFoundError,
    UnknownLanguageError,
)
from lipdub.events import EventCallback, Progress, emit
from lipdub.hub.catalogue import WHISPER_ALIASES, WHISPER_FILES, WeightsSpec, all_specs
from lipdub.transcribe._segment import words_to_segments
from lipdub.transcribe.base import Transcriber
from lipdub.types import AudioClip, Segment, Transcript, Word

__all__ = ["WHISPER_MODELS", "WhisperTranscriber", "check_model", "model_folder"]

logger = logging.getLogger(__name__)

#: Whisper works on 16 kHz audio.
SAMPLE_RATE_HZ = 16000
# Languages written without spaces between words.
_NO_SPACES = frozenset({"ja", "zh", "yue", "th", "lo", "my", "bo"})


def _whisper_models() -> dict[str, WeightsSpec]:
    out: dict[str, WeightsSpec] = {}
    for spec in all_specs():
        if spec.slot == "transcriber" and spec.name.startswith("whisper-"):
            out[spec.name.removeprefix("whisper-")] = spec
    for alias, target in WHISPER_ALIASES.items():
        out[alias] = out[target]
    return out


#: Known size names -> their catalogue entry (:mod:`lipdub.hub.catalogue`, names
#: ``whisper-<size>``). Revisions are pinned to the commits whose model files lipdub
#: was checked against; None means the repository's ``main``.
WHISPER_MODELS: dict[str, WeightsSpec] = _whisper_models()


def _is_model_dir(path: Path) -> bool:
    return (path / "model.bin").is_file() and (path / "config.json").is_file()


def model_folder(model: str | os.PathLike[str]) -> Path | None:
    """The local folder ``model`` names, or None for a size name or a Hub repo id.

    This is how :class:`WhisperTranscriber` reads its ``model``: an existing folder, or
    a name with a path separator that is not ``owner/name``, is a folder (it may not
    exist).

    Example:
        >>> model_folder("tiny.en"), model_folder("Systran/faster-whisper-tiny")
        (None, None)
        >>> str(model_folder("/models/whisper-tiny"))
        '/models/whisper-tiny'
    """
    text = os.fspath(model)
    local = Path(text).expanduser()
    if local.is_dir() or (os.sep in text and not _looks_like_repo(text)):
        return local
    return None


_MODEL_HINT = (
    "pass a model size such as tiny.en, or a folder with a CTranslate2 Whisper model (model.bin)"
)


def check_model(model: str | os.PathLike[str], *, what: str = "model") -> None:
    """Refuse, before any work, a Whisper ``model`` that can never be loaded.

    Refused: a folder that does not exist or holds no CTranslate2 Whisper model
    (``model.bin`` and ``config.json``), and a name that is neither a size, a Hub repo
    id (``owner/name``) nor a folder. A size or repo id is not looked up: whether it is
    cached is for :meth:`WhisperTranscriber.load` to say.

    Args:
        model: What :class:`WhisperTranscriber` would be given.
        what: The argument it came from, for the message (``"--quality-model"``).

    Raises:
        InputError: naming ``what``, the folder or name, and what to pass instead.

    Example:
        >>> check_model("tiny.en")
        >>> try:
        ...     check_model("/no/such/folder", what="--quality-model")
        ... except InputError as e:
        ...     print(e.message)
        --quality-model /no/such/folder: no such folder
    """
    text = os.fspath(model)
    if not text.strip():
        raise InputError(f"{what} is empty", hint=_MODEL_HINT)
    folder = model_folder(text)
    if folder is None:
        if text not in WHISPER_MODELS and not _looks_like_repo(text):
            raise InputError(
                f"{what} {text!r}: not a Whisper model size and no such folder",
                hint=f"{_MODEL_HINT}; the sizes: {', '.join(WHISPER_MODELS)}",
            )
    elif not folder.is_dir():
        raise InputError(f"{what} {folder}: no such folder", path=folder, hint=_MODEL_HINT)
    elif not _is_model_dir(folder):
        raise InputError(
            f"{what} {folder}: holds no Whisper model (needs model.bin and config.json)",
            path=folder,
            hint=_MODEL_HINT,
        )


class WhisperTranscriber(Transcriber):
    """Transcribes speech offline with Whisper (faster-whisper / CTranslate2).

    The model is loaded on the first :meth:`transcribe` (or :meth:`load`), so building
    the object is cheap and needs no network.

    Args:
        model: A size name (see :data:`WHISPER_MODELS`: ``"tiny"``, ``"base"``,
            ``"small"``, ``"medium"``, ``"large-v3"``, ``"turbo"``, ``".en"`` variants),
            a Hub repo id with a CTranslate2 Whisper conversion (``"owner/name"``), or a
            local model directory (``model.bin``, ``config.json``, ``tokenizer.json``).
        device: ``"cpu"``, ``"cuda"`` or ``"auto"`` (CUDA when CTranslate2 sees a GPU).
        compute_type: CTranslate2 compute type; ``"auto"`` is ``int8`` on CPU and
            ``float16`` on CUDA.
        revision: Hub revision; None uses lipdub's pin for a known size (``main``
            for others). Not allowed with a local directory.
        cache_dir: Hub cache directory (default: the Hugging Face cache).
        local_files_only: Never download; use the cache only (``HF_HUB_OFFLINE=1``
            does the same).
        token: Hugging Face token for private repos.
        beam_size: Beam width for decoding (1 = greedy, faster).
        vad_filter: Skip non-speech with faster-whisper's bundled Silero VAD before
            decoding (faster on audio with long silences).
        word_timestamps: Split segments on word timings (recommended for dubbing);
            False keeps Whisper's own segments.
        max_segment_s: Longest segment in seconds.
        pause_s: A silence this long between words starts a new segment.
        cpu_threads: CPU threads for CTranslate2 (0 = its default).
        condition_on_previous_text: Give each 30 s window the previous text as a
            prompt (more consistent; False is more robust against repetition loops
            on repetitive speech).
        temperature: Decoding temperature, or temperatures to fall back through when
            a window decodes badly (faster-whisper's ``temperature``). The default,
            ``0.0``, never samples, so the transcript is reproducible; any value above
            0 samples at random (see the module docstring).

    Raises:
        BackendNotInstalled: faster-whisper is missing.
        InputError: an unknown size name, a bad option, or ``revision`` with a path.

    Example:
        >>> stt = WhisperTranscriber("tiny", device="cpu")
        >>> stt.model, stt.repo_id, stt.revision
        ('tiny', 'Systran/faster-whisper-tiny', 'd90ca5fe260221311c53c58e660288d3deb8d356')
    """

    name: ClassVar[str] = "whisper"

    def __init__(
        self,
        model: str | os.PathLike[str] = "small",
        *,
        device: str = "auto",
        compute_type: str = "auto",
        revision: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        local_files_only: bool = False,
        token: str | None = None,
        beam_size: int = 5,
        vad_filter: bool = False,
        word_timestamps: bool = True,
        max_segment_s: float = 12.0,
        pause_s: float = 0.7,
        cpu_threads: int = 0,
        condition_on_previous_text: bool = True,
        temperature: float | Sequence[float] = 0.0,
    ) -> None:
        require_modules("whisper", "the whisper transcriber", "faster_whisper", "ctranslate2")
        device = parse_device(device, engine="ctranslate2", check=False)
        if beam_size < 1:
            raise InputError(f"beam_size must be >= 1, got {beam_size}")
        if not max_segment_s > 0 or not pause_s > 0:
            raise InputError(
                f"max_segment_s and pause_s must be > 0, got {max_segment_s}, {pause_s}"
            )
        self.temperature = _temperatures(temperature)
        self.model = os.fspath(model)
        self.path: Path | None = None
        self.repo_id: str | None = None
        self.revision = revision
        local = model_folder(self.model)
        if local is not None:
            if revision is not None:
                raise InputError(
                    "revision= cannot be used with a local model directory",
                    path=local,
                    hint="drop revision=, or pass a Hub size name or repo id",
                )
            self.path = local
        elif self.model in WHISPER_MODELS:
            spec = WHISPER_MODELS[self.model]
            self.repo_id = spec.repo_id
            self.revision = revision or spec.revision
        elif _looks_like_repo(self.model):
            self.repo_id = self.model
        else:
            raise InputError(
                f"unknown Whisper model {self.model!r}",
                hint=f"use a size ({', '.join(WHISPER_MODELS)}), a Hub repo id "
                "or a local CTranslate2 model directory",
            )
        self.device = device
        self.compute_type = compute_type
        self.cache_dir = os.fspath(cache_dir) if cache_dir is not None else None
        self.local_files_only = local_files_only
        self.token = token
        self.beam_size = beam_size
        self.vad_filter = vad_filter
        self.word_timestamps = word_timestamps
        self.max_segment_s = max_segment_s
        self.pause_s = pause_s
        self.cpu_threads = cpu_threads
        self.condition_on_previous_text = condition_on_previous_text
        self._whisper: Any = None
        self._lock = threading.Lock()

    def settings(self) -> dict[str, Any]:
        """The options that change the transcript (JSON-ready).

        The model is its Hub repo and revision, or, for a local folder, a sha256 of its
        model files (so moving the folder keeps the cache). ``compute_type`` is the one
        asked for: ``"auto"`` stays ``"auto"`` whatever device it resolves on. Device,
        threads, cache folder, token and ``local_files_only`` are left out.
        """
        if self.path is not None:
            from lipdub._hashing import files_sha256

            model: dict[str, Any] = {
                "files_sha256": files_sha256(self.path, WHISPER_FILES)
                if _is_model_dir(self.path)
                else None
            }
        else:
            model = {"repo_id": self.repo_id, "revision": self.revision}
        return {
            "model": model,
            "compute_type": self.compute_type,
            "beam_size": self.beam_size,
            "vad_filter": self.vad_filter,
            "word_timestamps": self.word_timestamps,
            "max_segment_s": self.max_segment_s,
            "pause_s": self.pause_s,
            "condition_on_previous_text": self.condition_on_previous_text,
            "temperature": list(self.temperature),
        }

    # ------------------------------------------------------------------ loading
    def resolve_model_dir(self) -> Path:
        """The local model directory, downloading it first if needed.

        Raises:
            ModelNotFoundError: the directory is not a model, or the model is not
                cached and cannot be downloaded (offline, ``local_files_only``).
        """
        if self.path is not None:
            if not _is_model_dir(self.path):
                raise ModelNotFoundError(
                    "not a CTranslate2 Whisper model directory (needs model.bin and config.json)",
                    path=self.path,
                    backend=self.name,
                    hint="point model= at a faster-whisper model folder, or pass a size "
                    "name such as 'small' to download one",
                )
            return self.path
        assert self.repo_id is not None
        from lipdub.hub.catalogue import WHISPER_FILES
        from lipdub.hub.download import fetch

        known = WHISPER_MODELS.get(self.model)
        if known is not None and known.repo_id == self.repo_id:
            spec = dataclasses.replace(known, revision=self.revision)
        else:
            spec = WeightsSpec(
                name=f"whisper-{self.repo_id.replace('/', '--')}",
                repo_id=self.repo_id,
                filename="model.bin",
                revision=self.revision,
                size=None,
                sha256_prefix=None,
                allow_patterns=WHISPER_FILES,
                slot="transcriber",
                local_option="model",
            )
        path = fetch(
            spec,
            cache_dir=self.cache_dir,
            local_files_only=self.local_files_only,
            token=self.token,
            label=f"Whisper model {self.model!r}",
            registered=known is not None,
        )
        if not _is_model_dir(path):
            raise ModelNotFoundError(
                "the downloaded Whisper folder has no model.bin/config.json",
                path=path,
                backend=self.name,
                hint=f"delete it from the Hugging Face cache and run "
                f"`lipdub weights download {spec.name}`",
            )
        return path

    def load(self) -> Any:
        """Load the model now (done lazily by :meth:`transcribe`); returns it."""
        with self._lock:
            if self._whisper is not None:
                return self._whisper
            from faster_whisper import WhisperModel

            path = self.resolve_model_dir()
            device, index, compute_type = ctranslate2_placement(self.device, self.compute_type)
            logger.info("loading Whisper %s on %s:%d (%s)", path, device, index, compute_type)
            try:
                self._whisper = WhisperModel(
                    str(path),
                    device=device,
                    device_index=index,
                    compute_type=compute_type,
                    cpu_threads=self.cpu_threads,
                )
            except (RuntimeError, ValueError, OSError) as e:
                raise ModelNotFoundError(
                    f"cannot load the Whisper model from {path}: {e}",
                    path=path,
                    backend=self.name,
                    hint="the folder must hold a CTranslate2 Whisper conversion "
                    "(model.bin, config.json, tokenizer.json)",
                ) from e
            return self._whisper

    def _device_and_type(self) -> tuple[str, str]:
        device, _, compute_type = ctranslate2_placement(self.device, self.compute_type)
        return device, compute_type

    @property
    def is_multilingual(self) -> bool:
        """Whether the loaded model handles languages other than English."""
        return bool(self.load().model.is_multilingual)

    # ------------------------------------------------------------------ transcribing
    def transcribe(
        self,
        audio: AudioClip,
        language: str | None = None,
        *,
        on_event: EventCallback | None = None,
    ) -> Transcript:
        """Transcribe ``audio``; the language is detected when not given.

        Args:
            audio: Mono speech at any rate (resampled to 16 kHz).
            language: BCP-47 code (``"en"``, ``"es-MX"``: only the language part is
                used), or None to detect it from the first 30 s.
            on_event: Receives :class:`~lipdub.events.Progress` events (stage
                ``"transcribe"``, seconds of audio done of the total) while decoding.

        Returns:
            A transcript in the spoken language; each segment holds its words, with
            times in seconds from the start of ``audio``, inside the audio, in order.

        Raises:
            UnknownLanguageError: Whisper does not know ``language``, or the model is
                English-only and ``language`` is not English.
            ModelNotFoundError: the model is missing and cannot be downloaded.
        """
        whisper = self.load()
        lang = self._whisper_language(whisper, language)
        clip = audio.resample(SAMPLE_RATE_HZ)
        duration = clip.duration_s
        if clip.num_samples == 0:
            return Transcript(lang or "en", ())
        samples = np.ascontiguousarray(clip.samples, dtype=np.float32)
        segments_iter, info = whisper.transcribe(
            samples,
            language=lang,
            beam_size=self.beam_size,
            vad_filter=self.vad_filter,
            word_timestamps=self.word_timestamps,
            condition_on_previous_text=self.condition_on_previous_text,
            temperature=list(self.temperature),
        )
        detected = str(info.language)
        if lang is None:
            logger.info(
                "Whisper detected language %r (p=%.2f)", detected, info.language_probability
            )
        emit(on_event, Progress("transcribe", 0.0, duration, "s"))
        raw: list[Any] = []
        for seg in segments_iter:  # decoding happens as we iterate
            raw.append(seg)
            emit(on_event, Progress("transcribe", min(float(seg.end), duration), duration, "s"))
        emit(on_event, Progress("transcribe", duration, duration, "s"))
        out_lang = lang or detected
        if self.word_timestamps:
            words = _clean_words([w for seg in raw for w in (seg.words or ())], duration)
            segments = words_to_segments(
                words,
                max_segment_s=self.max_segment_s,
                pause_s=self.pause_s,
                joiner="" if out_lang in _NO_SPACES else " ",
            )
        else:
            segments = _plain_segments(raw, duration)
        return Transcript(out_lang, tuple(segments))

    def _whisper_language(self, whisper: Any, language: str | None) -> str | None:
        if language is None:
            return None
        code = language.strip().replace("_", "-").split("-")[0].lower()
        if not whisper.model.is_multilingual:
            if code != "en":
                raise UnknownLanguageError(
                    f"Whisper model {self.model!r} is English-only and cannot transcribe "
                    f"{language!r}",
                    backend=self.name,
                    hint="use a multilingual size such as 'small' (not '.en')",
                )
            return "en"
        supported = set(whisper.supported_languages)
        if code not in supported:
            raise UnknownLanguageError(
                f"Whisper does not know the language {language!r}",
                backend=self.name,
                hint="pass None to detect it, or one of: " + ", ".join(sorted(supported)),
            )
        return code

    def __repr__(self) -> str:
        where = str(self.path) if self.path is not None else self.repo_id
        return f"WhisperTranscriber(model={self.model!r} [{where}], device={self.device!r})"


def _temperatures(value: float | Sequence[float]) -> tuple[float, ...]:
    """``temperature=`` as a non-empty tuple of finite floats >= 0 (or InputError)."""
    raw = [value] if isinstance(value, (int, float)) else list(value)
    try:
        temps = tuple(float(t) for t in raw if not isinstance(t, bool))
    except (TypeError, ValueError):
        temps = ()
    if not temps or len(temps) != len(raw) or not all(math.isfinite(t) and t >= 0 for t in temps):
        raise InputError(
            f"temperature must be a number >= 0 or a list of them, got {value!r}",
            hint="leave it at 0.0 for a reproducible transcript",
        )
    return temps


def _looks_like_repo(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "~"))


def _clean_words(raw: list[Any], duration_s: float) -> list[Word]:
    """faster-whisper words -> lipdub Words: clamped into the audio, starts in order."""
    words: list[Word] = []
    last_start = 0.0
    for w in raw:
        text = str(w.word).strip()
        if not text:
            continue
        start = min(max(float(w.start), last_start, 0.0), duration_s)
        end = min(max(float(w.end), start), duration_s)
        last_start = start
        words.append(Word(round(start, 3), round(end, 3), text, confidence=float(w.probability)))
    return words


def _plain_segments(raw: list[Any], duration_s: float) -> list[Segment]:
    out: list[Segment] = []
    last = 0.0
    for seg in raw:
        text = str(seg.text).strip()
        if not text:
            continue
        start = min(max(float(seg.start), last), duration_s)
        end = min(max(float(seg.end), start), duration_s)
        last = start
        out.append(Segment(round(start, 3), round(end, 3), text))
    return out
