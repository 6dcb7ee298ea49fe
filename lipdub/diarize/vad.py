"""Where the speech is: a voice-activity model, with a level threshold as the fallback.

* :class:`SileroVad`: the Silero VAD network (MIT) whose TorchScript file ships inside
  the ``silero-vad`` wheel; lipdub loads that file with torch itself, so the package's
  own dependencies (torchaudio, onnxruntime) are never needed. It scores every 32 ms
  and keeps quiet, distant and overlapping voices that a level threshold drops.
* :class:`LevelVad`: frames within ``floor_db`` of the loudest one are speech (the
  method lipdub used before; no model).
* :func:`default_vad`: Silero when its wheel is installed, else the level threshold
  with one warning saying what is lost and how to install it.

Both give a :class:`SpeechMask`: one bool per 10 ms frame, with its spans in seconds.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import warnings
from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from lipdub.component import Component
from lipdub.errors import InputError, ModelNotFoundError
from lipdub.types import AudioClip

__all__ = ["FPS", "LevelVad", "SileroVad", "SpeechMask", "Vad", "default_vad", "vad_named"]

log = logging.getLogger(__name__)

#: Frames per second of every :class:`SpeechMask`.
FPS = 100
_RATE = 16000
_SILERO_VERSION = "6.2.3"


@dataclass(frozen=True, slots=True)
class SpeechMask:
    """Speech or not for each 10 ms frame of a recording.

    Example:
        >>> m = SpeechMask(np.array([0, 1, 1, 0, 1], bool))
        >>> m.spans()
        [(0.01, 0.03), (0.04, 0.05)]
        >>> m.speech_s
        0.03
    """

    frames: npt.NDArray[np.bool_]

    @property
    def speech_s(self) -> float:
        """Seconds of speech."""
        return float(self.frames.sum()) / FPS

    def spans(self) -> list[tuple[float, float]]:
        """The ``(start_s, end_s)`` runs of speech."""
        x = np.concatenate([[False], self.frames, [False]]).astype(np.int8)
        edges = np.flatnonzero(np.diff(x))
        return [(int(a) / FPS, int(b) / FPS) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _frames_for(audio: AudioClip) -> int:
    return round(audio.duration_s * FPS)


def _mono16k(audio: AudioClip) -> npt.NDArray[np.float32]:
    clip = audio.resample(_RATE) if audio.sample_rate_hz != _RATE else audio
    return np.asarray(clip.samples, np.float32)


class Vad(Component):
    """Finds the speech in a recording (a :class:`~lipdub.component.Component`: its
    ``settings()`` go into the key of whatever uses it)."""

    @abstractmethod
    def mask(self, audio: AudioClip) -> SpeechMask:
        """Speech or not for every 10 ms frame of ``audio``."""

    def speech_spans(self, audio: AudioClip) -> list[tuple[float, float]]:
        """The ``(start_s, end_s)`` spans of speech in ``audio``."""
        return self.mask(audio).spans()


class LevelVad(Vad):
    """Frames within ``floor_db`` of the loudest 25 ms frame (10 ms hop) are speech.

    Misses quiet and distant voices next to a loud one, and counts any loud noise as
    speech; the fallback when no model is installed.

    Example:
        >>> t = np.arange(16000) / 16000
        >>> x = (np.sin(2 * np.pi * 200 * t) * (t < 0.5)).astype(np.float32)
        >>> LevelVad().speech_spans(AudioClip(x, 16000))
        [(0.0, 0.51)]
    """

    name: ClassVar[str] = "level"

    def __init__(self, floor_db: float = -35.0) -> None:
        if floor_db >= 0:
            raise InputError(f"floor_db must be below 0 dB, got {floor_db}")
        self.floor_db = floor_db

    def settings(self) -> dict[str, Any]:
        """The method and its threshold."""
        return {"vad": "level", "floor_db": self.floor_db}

    def mask(self, audio: AudioClip) -> SpeechMask:
        """Frames louder than the loudest frame plus ``floor_db``."""
        n_fft, hop = 400, 160
        x = np.pad(_mono16k(audio).astype(np.float64), n_fft // 2)
        n = 1 + (len(x) - n_fft) // hop if len(x) >= n_fft else 0
        if n == 0:
            return SpeechMask(np.zeros(_frames_for(audio), bool))
        window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
        frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop][:n] * window
        db = 10 * np.log10((frames**2).sum(axis=1) + 1e-12)
        out = db > db.max() + self.floor_db
        return SpeechMask(_fit(out, _frames_for(audio)))


def _fit(frames: npt.NDArray[np.bool_], n: int) -> npt.NDArray[np.bool_]:
    out = np.zeros(n, bool)
    out[: min(n, len(frames))] = frames[:n]
    return out


def silero_path() -> Path | None:
    """The TorchScript model inside the installed ``silero-vad`` wheel (None: not installed)."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad.jit"


class SileroVad(Vad):
    """Silero VAD's speech probability every 32 ms, turned into speech spans.

    A span opens where the probability reaches ``threshold`` and closes after
    ``min_silence_s`` below ``threshold - 0.15``; spans shorter than ``min_speech_s``
    are dropped and each is widened by ``pad_s`` on both sides (the rules of Silero's
    own ``get_speech_timestamps``, written here over numpy).

    Args:
        threshold: Probability at which speech starts.
        min_speech_s: Shorter spans are not speech.
        min_silence_s: Shorter pauses do not end a span.
        pad_s: Each span is widened by this much.

    Raises:
        ModelNotFoundError: ``silero-vad`` is not installed (at the first :meth:`mask`).

    Example:
        >>> SileroVad(threshold=0.4).settings()["threshold"]
        0.4
    """

    name: ClassVar[str] = "silero"

    def __init__(
        self,
        *,
        threshold: float = 0.3,
        min_speech_s: float = 0.1,
        min_silence_s: float = 0.8,
        pad_s: float = 0.2,
    ) -> None:
        if not 0 < threshold < 1:
            raise InputError(f"threshold must be in (0, 1), got {threshold}")
        if min_speech_s < 0 or min_silence_s < 0 or pad_s < 0:
            raise InputError("min_speech_s, min_silence_s and pad_s must be >= 0")
        self.threshold = threshold
        self.min_speech_s = min_speech_s
        self.min_silence_s = min_silence_s
        self.pad_s = pad_s
        self._model: Any = None
        self._lock = threading.Lock()

    def settings(self) -> dict[str, Any]:
        """The model file and the span rules."""
        return {
            "vad": f"silero-vad-{_SILERO_VERSION}/silero_vad.jit",
            "threshold": self.threshold,
            "min_speech_s": self.min_speech_s,
            "min_silence_s": self.min_silence_s,
            "pad_s": self.pad_s,
        }

    def _load(self) -> Any:
        import torch

        path = silero_path()
        if path is None or not path.is_file():
            raise ModelNotFoundError(
                "the Silero voice-activity model is not installed",
                backend="silero",
                hint=f"pip install --no-deps silero-vad=={_SILERO_VERSION}",
            )
        with warnings.catch_warnings():  # torch 2.9+ calls TorchScript deprecated; it loads
            warnings.simplefilter("ignore", DeprecationWarning)
            model = torch.jit.load(str(path), map_location="cpu")  # type: ignore[no-untyped-call]
        model.eval()
        return model

    def probabilities(self, audio: AudioClip) -> npt.NDArray[np.float32]:
        """Speech probability of each 512-sample (32 ms at 16 kHz) frame of ``audio``."""
        import torch

        x = _mono16k(audio)
        n = -(-len(x) // 512)
        x = np.pad(x, (0, n * 512 - len(x)))
        with self._lock:
            if self._model is None:
                self._model = self._load()
            model = self._model
            model.reset_states()
            out = np.empty(n, np.float32)
            with torch.no_grad():
                for i in range(n):
                    out[i] = float(model(torch.from_numpy(x[i * 512 : (i + 1) * 512]), _RATE))
        return out

    def mask(self, audio: AudioClip) -> SpeechMask:
        """Silero's spans as 10 ms frames."""
        prob = self.probabilities(audio)
        step = 512 / _RATE
        spans: list[list[float]] = []
        start: float | None = None
        quiet_since: float | None = None
        low = max(self.threshold - 0.15, 0.01)
        for i, p in enumerate(prob):
            t = i * step
            if p >= self.threshold:
                quiet_since = None
                if start is None:
                    start = t
            elif start is not None and p < low:
                quiet_since = t if quiet_since is None else quiet_since
                if t + step - quiet_since >= self.min_silence_s:
                    spans.append([start, quiet_since])
                    start, quiet_since = None, None
        if start is not None:
            spans.append([start, len(prob) * step if quiet_since is None else quiet_since])
        n = _frames_for(audio)
        out = np.zeros(n, bool)
        for a, b in spans:
            if b - a < self.min_speech_s:
                continue
            lo = max(0, round((a - self.pad_s) * FPS))
            hi = min(n, round((b + self.pad_s) * FPS))
            out[lo:hi] = True
        return SpeechMask(out)


_WARNED: list[bool] = []


def default_vad() -> Vad:
    """Silero when ``silero-vad`` is installed; else the level threshold, with one warning.

    Example:
        >>> default_vad().name in ("silero", "level")
        True
    """
    path = silero_path()
    if path is not None and path.is_file():
        return SileroVad()
    if not _WARNED:
        _WARNED.append(True)
        log.warning(
            "silero-vad is not installed: speech is found by a -35 dB level threshold, "
            "which misses quiet and distant voices (pip install --no-deps silero-vad==%s)",
            _SILERO_VERSION,
        )
    return LevelVad()


def vad_named(name: str) -> Vad:
    """``"auto"`` (:func:`default_vad`), ``"silero"`` or ``"level"``.

    Example:
        >>> vad_named("level").settings()
        {'vad': 'level', 'floor_db': -35.0}
    """
    if name == "auto":
        return default_vad()
    if name == "silero":
        return SileroVad()
    if name == "level":
        return LevelVad()
    raise InputError(
        f"unknown voice-activity method {name!r}", hint="use one of: auto, silero, level"
    )
