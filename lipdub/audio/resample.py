"""Polyphase resampling of long signals in pieces, equal to resampling them whole.

:meth:`AudioClip.resample <lipdub.types.AudioClip.resample>` resamples a clip in
memory; these are for signals too long to resample at once (a film's soundtrack fed
to a separation model in windows, or its output in blocks).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from lipdub.typing import FloatArray

__all__ = ["StreamResampler", "resample_window"]


class StreamResampler:
    """Polyphase resampling of a signal that arrives in blocks, equal to resampling it whole.

    Keeps only a few filter lengths of input between calls.

    Example:
        >>> import numpy as np
        >>> from scipy.signal import resample_poly
        >>> x = np.random.default_rng(0).standard_normal((1, 5000))
        >>> rs = StreamResampler(44100, 16000, x.shape[1], 1)
        >>> y = np.concatenate([rs.push(x[:, i : i + 700]) for i in range(0, 5000, 700)]
        ...                    + [rs.finish()], axis=1)
        >>> bool(np.allclose(y, resample_poly(x, 160, 441, axis=1), atol=1e-9))
        True
    """

    def __init__(self, rate_in: int, rate_out: int, total_in: int, channels: int) -> None:
        g = math.gcd(rate_in, rate_out)
        self.up, self.down = rate_out // g, rate_in // g
        self.margin = math.ceil(10 * max(self.up, self.down) / self.up) + 8
        self.total_out = -(-total_in * self.up // self.down)
        self._buf = np.zeros((channels, 0), np.float64)
        self._buf_start = 0
        self._in_end = 0
        self._out_done = 0

    def push(self, block: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
        """Add ``(channels, n)`` input samples; return the output samples now final."""
        self._buf = np.concatenate([self._buf, np.asarray(block, np.float64)], axis=1)
        self._in_end += block.shape[1]
        limit = (self._in_end - self.margin) * self.up // self.down
        return self._emit(min(self.total_out, max(self._out_done, limit)))

    def finish(self) -> npt.NDArray[np.float64]:
        """The remaining output samples (call once all input was pushed)."""
        return self._emit(self.total_out)

    def _emit(self, end: int) -> npt.NDArray[np.float64]:
        if end <= self._out_done:
            return np.zeros((self._buf.shape[0], 0))
        if self.up == self.down == 1:
            y = self._buf
        else:
            from scipy.signal import resample_poly

            y = resample_poly(self._buf, self.up, self.down, axis=1)
        first = self._buf_start * self.up // self.down
        out = y[:, self._out_done - first : end - first]
        self._out_done = end
        keep = (self._out_done * self.down // self.up - self.margin) // self.down * self.down
        keep = max(self._buf_start, keep)
        self._buf = self._buf[:, keep - self._buf_start :]
        self._buf_start = keep
        return np.asarray(out)


def resample_window(x: npt.NDArray[Any], rate_in: int, rate_out: int, a: int, b: int) -> FloatArray:
    """Samples ``[a, b)`` of ``x`` resampled to ``rate_out`` (zeros outside the signal),
    equal to those of resampling the whole signal, computed from a few filter lengths
    of input around the window."""
    g = math.gcd(rate_in, rate_out)
    up, down = rate_out // g, rate_in // g
    total = -(-x.size * up // down)
    out = np.zeros(b - a, np.float32)
    lo, hi = max(a, 0), min(b, total)
    if hi <= lo:
        return out
    if up == down == 1:
        out[lo - a : hi - a] = x[lo:hi]
        return out
    from scipy.signal import resample_poly

    margin = math.ceil(10 * max(up, down) / up) + 8
    s0 = (lo * down // up - margin) // down * down
    s1 = -(-hi * down // up) + margin
    src = np.zeros(s1 - s0, np.float64)
    c0, c1 = max(s0, 0), min(s1, x.size)
    src[c0 - s0 : c1 - s0] = x[c0:c1]
    y = resample_poly(src, up, down)
    first = s0 * up // down
    out[lo - a : hi - a] = y[lo - first : hi - first]
    return out
