"""Where a speech track has sound worth lip-syncing: an energy detector in numpy.

:func:`detect_speech_spans` splits the audio into short frames, measures each frame's
RMS level in dBFS and marks a frame as voiced when it rises above a threshold set from
the clip's own noise floor (a low percentile of the frame levels) and its loud level
(a high percentile). Voiced runs then get a short pre-roll (the mouth opens before the
sound) and a hangover (it closes after it), gaps shorter than a pause between words are
bridged, and blips shorter than a syllable are dropped.

It is not a speech/music classifier: any sound clearly above the floor counts. Digital
silence and a steady hiss (below -30 dBFS) count as no speech; a steady loud sound with no
dynamics at all (a tone, music without pauses) counts as speech throughout, so such
clips are lip-synced as before rather than frozen.

Only numpy is used; the clip is analysed at its own sample rate.

Example:
    >>> import numpy as np
    >>> from lipdub.types import AudioClip
    >>> from lipdub.testing.media import speech_tones
    >>> silence = AudioClip.silence(0.5, 16000)
    >>> speech = speech_tones(1.0)
    >>> clip = AudioClip(np.concatenate([silence.samples, speech.samples]), 16000)
    >>> [(round(a, 2), round(b, 2)) for a, b in detect_speech_spans(clip)]
    [(0.46, 1.5)]
    >>> detect_speech_spans(AudioClip.silence(1.0, 16000))
    []
"""

from __future__ import annotations

import math

import numpy as np

from lipdub.errors import InputError
from lipdub.types import AudioClip

__all__ = ["detect_speech_spans"]

#: Level (dBFS) given to a frame of digital silence.
_SILENCE_DB = -120.0
#: A clip without dynamics counts as speech throughout when at least this loud (dBFS).
_STEADY_SPEECH_DB = -30.0


def _frame_levels_db(samples: np.ndarray, frame_len: int) -> np.ndarray:
    """RMS level of each ``frame_len`` block in dBFS (the last, short block included)."""
    n = samples.shape[0]
    count = math.ceil(n / frame_len)
    padded = np.zeros(count * frame_len, np.float64)
    padded[:n] = samples
    blocks = padded.reshape(count, frame_len)
    lengths = np.full(count, frame_len, np.float64)
    lengths[-1] = n - (count - 1) * frame_len
    power = (blocks * blocks).sum(axis=1) / lengths
    with np.errstate(divide="ignore"):
        db = 10.0 * np.log10(power)
    out: np.ndarray = np.maximum(
        np.nan_to_num(db, nan=_SILENCE_DB, neginf=_SILENCE_DB), _SILENCE_DB
    )
    return out


def detect_speech_spans(
    clip: AudioClip,
    *,
    frame_s: float = 0.02,
    min_level_db: float = -55.0,
    margin_db: float = 10.0,
    pre_roll_s: float = 0.04,
    hangover_s: float = 0.1,
    bridge_s: float = 0.3,
    min_speech_s: float = 0.06,
) -> list[tuple[float, float]]:
    """The ``(start_s, end_s)`` spans of ``clip`` that hold sound, sorted and disjoint.

    Args:
        clip: The speech track (any sample rate; mono).
        frame_s: Analysis frame length in seconds.
        min_level_db: Frames quieter than this (dBFS) are never speech.
        margin_db: A frame is voiced when it is this much above the noise floor (and
            within ``margin_db`` of the loud level when the floor is far below).
        pre_roll_s: Seconds added before each voiced run.
        hangover_s: Seconds added after each voiced run.
        bridge_s: Gaps shorter than this between runs are filled.
        min_speech_s: Voiced runs shorter than this (before padding) are dropped.

    Returns:
        Spans in seconds, clamped to ``[0, clip.duration_s]``; empty when the clip is
        silent (or empty).

    Raises:
        InputError: A parameter is not a finite number in range.
    """
    params = {
        "frame_s": frame_s,
        "pre_roll_s": pre_roll_s,
        "hangover_s": hangover_s,
        "bridge_s": bridge_s,
        "min_speech_s": min_speech_s,
    }
    for key, value in params.items():
        if not math.isfinite(value) or value < 0 or (key == "frame_s" and value <= 0):
            raise InputError(f"detect_speech_spans: {key} must be a finite number >= 0")
    if not (math.isfinite(min_level_db) and math.isfinite(margin_db)):
        raise InputError("detect_speech_spans: min_level_db and margin_db must be finite")
    rate = clip.sample_rate_hz
    n = clip.num_samples
    frame_len = max(1, round(frame_s * rate))
    if n == 0:
        return []
    samples = np.nan_to_num(np.asarray(clip.samples, np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    levels = _frame_levels_db(samples, frame_len)
    floor = float(np.percentile(levels, 10))
    loud = float(np.percentile(levels, 95))
    if loud - floor < margin_db / 2:
        # no dynamics: silence/hiss (quiet) or a steady sound (loud) throughout
        return [(0.0, clip.duration_s)] if loud >= _STEADY_SPEECH_DB else []
    threshold = max(min_level_db, min(floor + margin_db, loud - margin_db))
    voiced = levels > threshold
    # voiced runs as [start, end) frame indices
    edges = np.diff(np.concatenate([[0], voiced.astype(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    step = frame_len / rate
    min_frames = min_speech_s / step
    spans: list[tuple[float, float]] = []
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        if b - a < min_frames:
            continue
        t0 = max(0.0, a * step - pre_roll_s)
        t1 = min(clip.duration_s, b * step + hangover_s)
        if spans and t0 - spans[-1][1] < bridge_s:
            spans[-1] = (spans[-1][0], max(spans[-1][1], t1))
        else:
            spans.append((t0, t1))
    return spans
