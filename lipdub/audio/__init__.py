"""Audio below the components: Wav2Lip's mel features and the DSP on clips.

============  ==============================================================
module        job
============  ==============================================================
``mel``       the mel spectrogram the lip-sync networks expect, frame windows
``dsp``       trim silence, time-stretch, loudness (LUFS), mix, peak limit
``resample``  long signals resampled in pieces, equal to resampling them whole
============  ==============================================================

The voices, the separators and the dub use these, so none imports another for them.
Resampling a whole clip is :meth:`AudioClip.resample <lipdub.types.AudioClip.resample>`.
Every name is re-exported here (``from lipdub.audio import melspectrogram, time_stretch``).
"""

from lipdub.audio.dsp import integrated_loudness, limit_peak, mix_at, time_stretch, trim_silence
from lipdub.audio.mel import (
    HOP_LENGTH,
    MEL_BANDS,
    MEL_COLUMNS_PER_S,
    MEL_WINDOW,
    N_FFT,
    SAMPLE_RATE_HZ,
    frames_for_audio,
    mel_basis,
    mel_from_clip,
    mel_window_starts,
    mel_windows,
    melspectrogram,
    original_window_starts,
)
from lipdub.audio.resample import StreamResampler, resample_window

__all__ = [
    "HOP_LENGTH",
    "MEL_BANDS",
    "MEL_COLUMNS_PER_S",
    "MEL_WINDOW",
    "N_FFT",
    "SAMPLE_RATE_HZ",
    "StreamResampler",
    "frames_for_audio",
    "integrated_loudness",
    "limit_peak",
    "mel_basis",
    "mel_from_clip",
    "mel_window_starts",
    "mel_windows",
    "melspectrogram",
    "mix_at",
    "original_window_starts",
    "resample_window",
    "time_stretch",
    "trim_silence",
]
