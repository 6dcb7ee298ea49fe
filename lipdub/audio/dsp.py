"""Audio DSP on clips: silence trimming, time-stretch, loudness, mixing, peak limiting.

Used by the voices (a matched voice stretches its speech) and by the dub (the timing
fit, the remix), so it lives below both. Resampling a clip is
:meth:`AudioClip.resample <lipdub.types.AudioClip.resample>`.

All functions take and return :class:`~lipdub.types.AudioClip` (mono float32) and are
pure: inputs are never modified.

Example:
    >>> import numpy as np
    >>> from lipdub.types import AudioClip
    >>> tone = AudioClip(np.full(16000, 0.5, np.float32), 16000)
    >>> time_stretch(tone, 2.0).duration_s
    0.5
    >>> float(limit_peak(tone, 0.25).samples.max())
    0.25
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from lipdub.errors import InputError
from lipdub.types import AudioClip

__all__ = [
    "integrated_loudness",
    "limit_peak",
    "mix_at",
    "time_stretch",
    "trim_silence",
]


def trim_silence(
    clip: AudioClip, *, threshold_db: float = -45.0, keep_s: float = 0.01
) -> AudioClip:
    """Drop leading and trailing silence (below ``threshold_db`` relative to the peak).

    Text-to-speech engines pad their output; trimming it makes speech start where
    the segment starts. ``keep_s`` of margin is left on each side.
    """
    x = clip.samples
    if x.size == 0:
        return clip
    peak = float(np.max(np.abs(x)))
    if peak <= 0:
        return AudioClip(x[:0], clip.sample_rate_hz)
    frame = max(1, clip.sample_rate_hz // 100)  # 10 ms
    n = x.size // frame
    if n == 0:
        return clip
    env = np.abs(x[: n * frame]).reshape(n, frame).max(axis=1)
    loud = np.flatnonzero(env > peak * 10 ** (threshold_db / 20))
    if loud.size == 0:
        return AudioClip(x[:0], clip.sample_rate_hz)
    keep = round(keep_s * clip.sample_rate_hz)
    a = max(0, loud[0] * frame - keep)
    b = min(x.size, (loud[-1] + 1) * frame + keep)
    return AudioClip(x[a:b], clip.sample_rate_hz)


def time_stretch(clip: AudioClip, speed: float, *, target_s: float | None = None) -> AudioClip:
    """Play ``clip`` ``speed`` times faster without changing its pitch (WSOLA).

    Uses audiotsm's WSOLA (waveform-similarity overlap-add), which keeps speech
    natural for moderate factors (0.75-1.5x), unlike a resample, which shifts pitch.

    Args:
        clip: Mono speech.
        speed: > 1 shortens, < 1 lengthens.
        target_s: If given, the result is padded/cut to exactly this many seconds.
    """
    if speed <= 0:
        raise InputError(f"time_stretch speed must be > 0, got {speed}")
    if abs(speed - 1.0) < 1e-3 or clip.num_samples == 0:
        out = clip
    else:
        from audiotsm import wsola
        from audiotsm.io.array import ArrayReader, ArrayWriter

        frame = max(256, int(0.04 * clip.sample_rate_hz)) // 2 * 2
        reader = ArrayReader(clip.samples[np.newaxis, :].astype(np.float32))
        writer = ArrayWriter(1)
        wsola(1, speed=speed, frame_length=frame, synthesis_hop=frame // 2).run(reader, writer)
        out = AudioClip(np.asarray(writer.data[0], np.float32), clip.sample_rate_hz)
        if target_s is None:
            target_s = clip.duration_s / speed
    return out.pad_to(target_s) if target_s is not None else out


_K_CACHE: dict[int, tuple[npt.NDArray[np.float64], ...]] = {}


def _k_weighting(rate: int) -> tuple[npt.NDArray[np.float64], ...]:
    """The two ITU-R BS.1770 K-weighting biquads (shelf + high-pass) at ``rate``."""
    if rate in _K_CACHE:
        return _K_CACHE[rate]
    # Pre-filter (high shelf): bilinear transform of the analogue prototype.
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = np.tan(np.pi * f0 / rate)
    vh = 10 ** (gain_db / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    b1 = np.array(
        [(vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0]
    )
    a1 = np.array([1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])
    # RLB weighting (high-pass).
    f0, q = 38.13547087602444, 0.5003270373238773
    k = np.tan(np.pi * f0 / rate)
    a0 = 1 + k / q + k * k
    b2 = np.array([1.0, -2.0, 1.0])
    a2 = np.array([1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])
    _K_CACHE[rate] = (b1, a1, b2, a2)
    return _K_CACHE[rate]


def integrated_loudness(clip: AudioClip) -> float:
    """Integrated loudness in LUFS (ITU-R BS.1770-4, mono, gated).

    400 ms blocks with 75 % overlap, absolute gate at -70 LUFS and relative gate 10 LU
    below. Returns ``-inf`` for silence or clips shorter than one block.
    """
    from scipy.signal import lfilter

    rate = clip.sample_rate_hz
    b1, a1, b2, a2 = _k_weighting(rate)
    y = lfilter(b2, a2, lfilter(b1, a1, clip.samples.astype(np.float64)))
    block, hop = int(0.4 * rate), int(0.1 * rate)
    if y.size < block:
        return float("-inf")
    n = 1 + (y.size - block) // hop
    sq = np.concatenate([[0.0], np.cumsum(y * y)])
    starts = np.arange(n) * hop
    power = (sq[starts + block] - sq[starts]) / block
    with np.errstate(divide="ignore"):
        loud = -0.691 + 10 * np.log10(power)
    gated = power[loud > -70]
    if gated.size == 0:
        return float("-inf")
    rel = -0.691 + 10 * np.log10(gated.mean()) - 10
    with np.errstate(divide="ignore"):
        gated = gated[-0.691 + 10 * np.log10(gated) > rel]
    if gated.size == 0:
        return float("-inf")
    return float(-0.691 + 10 * np.log10(gated.mean()))


def mix_at(base: AudioClip, clip: AudioClip, start_s: float, gain: float = 1.0) -> AudioClip:
    """``base`` with ``clip`` added at ``start_s`` (``base`` is extended if needed)."""
    if clip.sample_rate_hz != base.sample_rate_hz:
        clip = clip.resample(base.sample_rate_hz)
    a = max(0, round(start_s * base.sample_rate_hz))
    end = a + clip.num_samples
    out = np.zeros(max(base.num_samples, end), np.float32)
    out[: base.num_samples] = base.samples
    out[a:end] += gain * clip.samples
    return AudioClip(out, base.sample_rate_hz)


def limit_peak(clip: AudioClip, ceiling: float = 0.98) -> AudioClip:
    """Scale down so no sample exceeds ``ceiling`` (no clipping); louder clips only."""
    peak = float(np.max(np.abs(clip.samples))) if clip.num_samples else 0.0
    if peak <= ceiling:
        return clip
    return AudioClip(clip.samples * (ceiling / peak), clip.sample_rate_hz)
