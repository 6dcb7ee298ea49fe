"""Data that ships with lipdub and that the library itself uses.

* ``portrait.jpg``: a real head-and-shoulders photo (public domain; see
  ``examples/data/README.md``), with its face box :data:`PORTRAIT_FACE`.
* :func:`speech_tones`: syllable-like tone bursts, a stand-in for speech.

The int8 Wav2Lip build calibrates on both (:mod:`lipdub.lipsync.wav2lip_int8`), so
they belong to the library, not to :mod:`lipdub.testing`, which re-exports them as
sample media for tests and examples.

Example:
    >>> portrait_path().name, speech_tones(1.0, 8000).num_samples
    ('portrait.jpg', 8000)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from lipdub.errors import InputError
from lipdub.types import AudioClip

__all__ = ["PAUSE_S", "PORTRAIT_FACE", "SYLLABLE_S", "portrait_path", "speech_tones", "syllables"]

#: The bundled portrait's face box ``(x1, y1, x2, y2)`` (RetinaFace on ``portrait.jpg``).
PORTRAIT_FACE = (107.0, 57.0, 202.0, 176.0)
#: Length of one tone burst of :func:`speech_tones`, and of the pause after it.
SYLLABLE_S = 0.25
PAUSE_S = 0.15


def portrait_path() -> Path:
    """The bundled photo: a crop of NASA's portrait of astronaut Eileen Collins (as
    distributed with scikit-image as ``skimage.data.astronaut()``), 300 x 320 px."""
    path = Path(__file__).with_name("portrait.jpg")
    if not path.exists():  # pragma: no cover - only in a broken install
        raise InputError(
            "the bundled sample portrait is missing", path=path, hint="reinstall lipdub"
        )
    return path


def syllables(n: int, sample_rate_hz: int) -> tuple[npt.NDArray[np.float64], ...]:
    """The syllable rhythm of :func:`speech_tones`, for ``n`` samples: per sample its
    time ``t``, its syllable's index, its phase in the syllable's period (s), and the
    loudness envelope (a rounded 0.25 s burst, then 0.15 s of silence)."""
    t = np.arange(n, dtype=np.float64) / sample_rate_hz
    period = SYLLABLE_S + PAUSE_S
    syllable = np.floor(t / period)
    phase = t - syllable * period
    env = np.where(
        phase < SYLLABLE_S, np.sin(np.pi * np.clip(phase / SYLLABLE_S, 0, 1)) ** 0.7, 0.0
    )
    return t, syllable, phase, env


def speech_tones(duration_s: float, sample_rate_hz: int = 16000) -> AudioClip:
    """Syllable-like tone bursts: 0.25 s tones (pitch varying) separated by 0.15 s pauses.

    Returns:
        ``(round(duration_s * sample_rate_hz),)`` float32 samples, peak about 0.4.

    Example:
        >>> speech_tones(1.0, 8000).num_samples
        8000
    """
    if duration_s < 0:
        raise InputError(f"duration_s must be >= 0, got {duration_s}")
    t, syllable, _, env = syllables(round(duration_s * sample_rate_hz), sample_rate_hz)
    f0 = 150.0 + 40.0 * np.sin(syllable * 1.7)
    tone = np.sin(2 * np.pi * f0 * t) + 0.35 * np.sin(4 * np.pi * f0 * t)
    return AudioClip((0.3 * env * tone).astype(np.float32), sample_rate_hz)
