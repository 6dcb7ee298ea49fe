"""lipdub.audio: the mel spectrogram against the original's numbers, frame <-> mel indexing."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from lipdub.audio import (
    frames_for_audio,
    mel_basis,
    mel_from_clip,
    mel_window_starts,
    mel_windows,
    melspectrogram,
    original_window_starts,
)
from lipdub.errors import InputError
from lipdub.types import AudioClip

REF = np.load(Path(__file__).parent / "data" / "mel_reference.npz")
NTSC = Fraction(30000, 1001)


def test_mel_basis_matches_reference() -> None:
    np.testing.assert_allclose(mel_basis(), REF["mel_basis"], atol=1e-7, rtol=0)


@pytest.mark.parametrize(
    ("key", "pad_mode"),
    [("mel", "constant"), ("mel_reflect", "reflect"), ("mel_legacy_librosa07", "reflect")],
)
def test_mel_parity(key: str, pad_mode: str) -> None:
    mel = melspectrogram(REF["wav"], pad_mode=pad_mode)  # type: ignore[arg-type]
    assert mel.shape == (80, 161)
    assert mel.dtype == np.float32
    np.testing.assert_allclose(mel, REF[key], atol=1e-4, rtol=0)


def test_pad_modes_differ_only_at_edges() -> None:
    a = melspectrogram(REF["wav"], pad_mode="reflect")
    b = melspectrogram(REF["wav"], pad_mode="constant")
    np.testing.assert_array_equal(a[:, 2:-2], b[:, 2:-2])
    assert np.abs(a - b).max() > 0.5


@pytest.mark.parametrize(("n", "cols"), [(32000, 161), (160000, 801), (199, 1), (200, 2), (1, 1)])
def test_column_count(n: int, cols: int) -> None:
    mel = melspectrogram(np.zeros(n, np.float32))
    assert mel.shape == (80, cols)
    assert float(mel.min()) >= -4.0 and float(mel.max()) <= 4.0


def test_silence_is_floor() -> None:
    assert np.all(melspectrogram(np.zeros(4000, np.float32)) == -4.0)


def test_long_audio_blocks_agree() -> None:
    """The STFT runs in blocks; a block boundary must not change any column."""
    rng = np.random.default_rng(0)
    wav = rng.standard_normal(4096 * 200 + 4000).astype(np.float32) * 0.1
    whole = melspectrogram(wav)
    tail = melspectrogram(wav[-8000:])
    # the last columns depend only on the last samples (plus the reflect padding)
    np.testing.assert_allclose(whole[:, -20:-2], tail[:, -20:-2], atol=1e-4)


def test_bad_input() -> None:
    with pytest.raises(InputError):
        melspectrogram(np.zeros((2, 100)))
    with pytest.raises(InputError):
        melspectrogram(np.zeros(0))
    with pytest.raises(InputError):
        melspectrogram(np.zeros(10), pad_mode="edge")  # type: ignore[arg-type]
    with pytest.raises(InputError):
        melspectrogram(np.array([0.0, np.nan]))


def test_mel_from_clip_resamples() -> None:
    clip = AudioClip(REF["wav"], 16000).resample(24000)
    mel = mel_from_clip(clip)
    assert mel.shape == (80, 161)
    # resampling 16k -> 24k -> 16k is close to the identity
    assert np.abs(mel - REF["mel_reflect"])[:, 2:-2].mean() < 0.05


# --------------------------------------------------------------------------- indexing


@pytest.mark.parametrize(
    ("cols", "fps", "count", "first", "last_regular"),
    [
        (161, 25, 47, [0, 3, 6, 9, 12, 16, 19, 22], 144),
        (161, 30, 56, [0, 2, 5, 8, 10, 13, 16, 18], 144),
        (801, 25, 247, [0, 3, 6, 9, 12, 16], 784),
        (801, 30, 296, [0, 2, 5, 8, 10, 13], 784),
        (161, NTSC, 56, [0, 2, 5, 8, 10, 13, 16, 18], 144),
        (801, NTSC, 296, [0, 2, 5, 8, 10, 13], 784),
        (161, 29.97, 56, [0, 2, 5, 8, 10, 13, 16, 18], 144),
        (801, 29.97, 296, [0, 2, 5, 8, 10, 13], 784),
    ],
)
def test_original_windows_table(
    cols: int, fps: float, count: int, first: list[int], last_regular: int
) -> None:
    """The table in the reference facts (wav2lip_facts.md) for 2 s and 10 s of audio."""
    starts = original_window_starts(cols, fps)
    assert len(starts) == count
    assert starts[: len(first)].tolist() == first
    assert int(starts[-2]) == last_regular
    assert int(starts[-1]) == cols - 16


@pytest.mark.parametrize("fps", [24, 25, 30, 29.97, NTSC, 50, 60])
def test_starts_equal_python_float_rule(fps: float) -> None:
    """``int(i * (80 / fps))`` as the original computes it, for the first 2000 frames."""
    f = float(fps)
    want = [int(i * (80.0 / f)) for i in range(2000)]
    assert mel_window_starts(2000, fps).tolist() == want


@pytest.mark.parametrize(
    ("duration_s", "fps", "frames"),
    [
        (2.0, 25, 50),
        (10.0, 25, 250),
        (2.0, NTSC, 60),  # 59.94 -> 60 frames (2.002 s of video)
        (10.0, NTSC, 300),  # 299.7 -> 300
        (2.0, 29.97, 60),
        (1.0, 30, 30),
        (0.04, 25, 1),
        (0.041, 25, 2),
        (1001 / 30000 * 7, NTSC, 7),  # float noise must not add a frame
        (0.0, 25, 0),
    ],
)
def test_frames_for_audio(duration_s: float, fps: float, frames: int) -> None:
    assert frames_for_audio(duration_s, fps) == frames


def test_frames_cover_audio_within_one_frame() -> None:
    for fps in (24, 25, 30, NTSC):
        for n in range(3000, 40000, 997):
            d = n / 16000
            k = frames_for_audio(d, fps)
            assert k / float(fps) >= d - 1e-9
            assert (k - 1) / float(fps) < d


def test_bad_fps() -> None:
    with pytest.raises(InputError):
        mel_window_starts(3, 0)
    with pytest.raises(InputError):
        frames_for_audio(1.0, float("nan"))
    with pytest.raises(InputError):
        frames_for_audio(-1.0, 25)


def test_mel_windows_cover_whole_audio() -> None:
    mel = REF["mel_reflect"]
    w = mel_windows(mel, 25)
    assert w.shape == (50, 80, 16) and w.dtype == np.float32
    # windows inside the spectrogram are plain slices
    np.testing.assert_array_equal(w[5], mel[:, 16:32])
    np.testing.assert_array_equal(w[44], mel[:, 140:156])
    # the last frame starts at column 156 and repeats the last column past the end
    np.testing.assert_array_equal(w[49][:, :5], mel[:, 156:161])
    np.testing.assert_array_equal(w[49][:, 5:], np.repeat(mel[:, 160:161], 11, axis=1))


def test_mel_windows_clamp_mode_matches_original_tail() -> None:
    mel = REF["mel_reflect"]
    w = mel_windows(mel, 25, 47, mode="clamp")
    starts = original_window_starts(161, 25)
    for i, s in enumerate(starts):
        np.testing.assert_array_equal(w[i], mel[:, s : s + 16])


def test_mel_windows_short_audio_and_ntsc() -> None:
    mel = melspectrogram(np.zeros(1000, np.float32))  # 6 columns, shorter than a window
    w = mel_windows(mel, NTSC)
    assert w.shape == (2, 80, 16)
    assert mel_windows(REF["mel"], NTSC).shape == (60, 80, 16)
    assert mel_windows(REF["mel"], 25, 0).shape == (0, 80, 16)
    with pytest.raises(InputError):
        mel_windows(np.zeros(5), 25)
