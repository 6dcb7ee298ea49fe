"""Audio as it flows between stages: :class:`AudioClip` (samples + their rate)."""

from __future__ import annotations

import io
import math
import os
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lipdub._io import atomic_write_bytes, file_kind
from lipdub.errors import InputError, MediaError
from lipdub.typing import FloatArray

__all__ = ["AudioClip"]


def _readonly(array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    if array.flags.writeable:
        array = array.view()
        array.flags.writeable = False
    return array


@dataclass(frozen=True, slots=True)
class AudioClip:
    """Mono audio: float32 samples in [-1, 1] at a sample rate.

    Args:
        samples: ``(N,)`` float32 samples. Other float dtypes are converted; a 2-D
            ``(N, C)`` array is mixed down to mono.
        sample_rate_hz: Samples per second, > 0.

    Example:
        >>> clip = AudioClip.silence(0.5, 16000)
        >>> clip.duration_s, clip.num_samples
        (0.5, 8000)
        >>> clip.resample(8000).num_samples
        4000
    """

    samples: FloatArray
    sample_rate_hz: int

    def __post_init__(self) -> None:
        samples = np.asarray(self.samples)
        if samples.ndim == 2:
            samples = samples.mean(axis=1)
        if samples.ndim != 1:
            raise InputError(f"AudioClip.samples must be 1-D (N,), got shape {samples.shape}")
        if samples.dtype.kind == "i":
            scale = float(np.iinfo(samples.dtype.type).max) + 1.0  # type: ignore[type-var]
            samples = samples.astype(np.float32) / scale
        elif samples.dtype != np.float32:
            samples = samples.astype(np.float32)
        if not isinstance(self.sample_rate_hz, (int, np.integer)) or self.sample_rate_hz <= 0:
            raise InputError(
                f"AudioClip.sample_rate_hz must be a positive int, got {self.sample_rate_hz!r}"
            )
        object.__setattr__(self, "sample_rate_hz", int(self.sample_rate_hz))
        object.__setattr__(self, "samples", _readonly(samples))

    @property
    def num_samples(self) -> int:
        """Number of samples."""
        return int(self.samples.shape[0])

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self.num_samples / self.sample_rate_hz

    @classmethod
    def silence(cls, duration_s: float, sample_rate_hz: int) -> AudioClip:
        """A clip of zeros ``duration_s`` long (rounded to whole samples)."""
        if duration_s < 0:
            raise InputError(f"silence duration_s must be >= 0, got {duration_s}")
        return cls(np.zeros(round(duration_s * sample_rate_hz), np.float32), sample_rate_hz)

    @classmethod
    def concatenate(cls, clips: Sequence[AudioClip]) -> AudioClip:
        """Join clips end to end; all must share one sample rate."""
        if not clips:
            raise InputError("AudioClip.concatenate needs at least one clip")
        rates = {c.sample_rate_hz for c in clips}
        if len(rates) != 1:
            raise InputError(
                f"cannot concatenate clips with different sample rates {sorted(rates)}"
            )
        return cls(np.concatenate([c.samples for c in clips]), clips[0].sample_rate_hz)

    def resample(self, sample_rate_hz: int) -> AudioClip:
        """This clip at another rate (polyphase filter; keeps the duration)."""
        if sample_rate_hz == self.sample_rate_hz:
            return self
        from scipy.signal import resample_poly

        g = math.gcd(int(sample_rate_hz), self.sample_rate_hz)
        out = resample_poly(self.samples, sample_rate_hz // g, self.sample_rate_hz // g)
        return AudioClip(out.astype(np.float32), sample_rate_hz)

    def slice(self, start_s: float, end_s: float | None = None) -> AudioClip:
        """The part between ``start_s`` and ``end_s`` (clamped to the clip)."""
        a = max(0, round(start_s * self.sample_rate_hz))
        b = self.num_samples if end_s is None else max(a, round(end_s * self.sample_rate_hz))
        return AudioClip(self.samples[a:b], self.sample_rate_hz)

    def pad_to(self, duration_s: float) -> AudioClip:
        """This clip padded with silence (or cut) to exactly ``duration_s``."""
        n = round(duration_s * self.sample_rate_hz)
        if n <= self.num_samples:
            return AudioClip(self.samples[:n], self.sample_rate_hz)
        out = np.zeros(n, np.float32)
        out[: self.num_samples] = self.samples
        return AudioClip(out, self.sample_rate_hz)

    def rms(self) -> float:
        """Root-mean-square level (0 for an empty clip)."""
        if self.num_samples == 0:
            return 0.0
        return float(np.sqrt(np.mean(np.square(self.samples, dtype=np.float64))))

    def to_int16(self) -> npt.NDArray[np.int16]:
        """Samples as 16-bit PCM (clipped to the int16 range)."""
        return np.clip(np.round(self.samples * 32767.0), -32768, 32767).astype(np.int16)

    def to_wav_bytes(self) -> bytes:
        """A complete 16-bit PCM mono WAV file in memory."""
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(self.sample_rate_hz)
            w.writeframes(self.to_int16().tobytes())
        return buf.getvalue()

    def save_wav(self, path: str | os.PathLike[str]) -> Path:
        """Write a 16-bit PCM WAV atomically (temporary file + rename). Returns the path."""
        return atomic_write_bytes(path, self.to_wav_bytes())

    @classmethod
    def from_wav_bytes(cls, data: bytes, *, source: str = "<bytes>") -> AudioClip:
        """Decode a PCM WAV (8/16/32-bit int or 32-bit float, any channel count)."""
        from scipy.io import wavfile

        try:
            rate, samples = wavfile.read(io.BytesIO(data))
        except Exception as e:  # scipy raises ValueError/EOFError variants
            raise MediaError(f"not a readable WAV file: {e}", path=source) from e
        from lipdub.limits import Limits

        lim = Limits.from_env()
        if not lim.min_sample_rate_hz <= int(rate) <= lim.max_sample_rate_hz:
            raise MediaError(
                f"the WAV declares a sample rate of {int(rate)} Hz, outside the accepted "
                f"{lim.min_sample_rate_hz}-{lim.max_sample_rate_hz} Hz",
                path=source,
                hint="re-export it at 16000-48000 Hz (limits: see lipdub.limits)",
            )
        samples = np.asarray(samples)
        if samples.dtype == np.uint8:
            samples = (samples.astype(np.float32) - 128.0) / 128.0
        return cls(samples, int(rate))

    @classmethod
    def load_wav(cls, path: str | os.PathLike[str]) -> AudioClip:
        """Read a WAV file written by :meth:`save_wav` (or any PCM WAV).

        For other formats (mp3, m4a, flac, a video's audio track) use
        :func:`lipdub.media.load_audio`.
        """
        p = Path(path)
        kind = file_kind(p)
        if kind is not None:
            raise MediaError(f"cannot read audio file: it is {kind}", path=p)
        try:
            data = p.read_bytes()
        except OSError as e:
            raise MediaError(f"cannot read audio file: {e.strerror}", path=p) from e
        return cls.from_wav_bytes(data, source=str(p))
