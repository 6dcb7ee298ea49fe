"""The dub's audio operations, now in :mod:`lipdub.audio.dsp` (re-exported here for
code that imports them from their old place)."""

from lipdub.audio.dsp import integrated_loudness, limit_peak, mix_at, time_stretch, trim_silence

__all__ = ["integrated_loudness", "limit_peak", "mix_at", "time_stretch", "trim_silence"]
