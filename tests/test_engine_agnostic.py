"""The engine is model-agnostic: another lip-syncer with its own audio features, windows
and crop size plugs in through the LipSyncer interface; the engine imports no torch."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pytest

from lipdub.errors import InputError
from lipdub.faces.track import FaceTracker
from lipdub.lipsync.base import LipSyncer
from lipdub.lipsync.engine import LipSyncOptions, lipsync_stream
from lipdub.lipsync.syncstream import frame_queue_size
from lipdub.testing import FakeFaceDetector
from lipdub.types import AudioClip

BOX = (8.0, 8.0, 56.0, 40.0)


class EnergySyncer(LipSyncer):
    """A fake model: 48x48 crops, 4-band "energy" features at 50 columns a second in
    windows of 5, and a mouth whose brightness is the window's first column's sum."""

    name: ClassVar[str] = "energy"
    face_size: ClassVar[int] = 48
    feature_rate_hz: ClassVar[int] = 50

    def __init__(self) -> None:
        self.face_shapes: list[tuple[int, ...]] = []
        self.window_shapes: list[tuple[int, ...]] = []
        self.entered = 0
        self.exited = 0

    def settings(self) -> dict[str, Any]:
        return {}

    @property
    def window_shape(self) -> tuple[int, ...]:
        return (4, 5)

    def audio_features(self, audio: AudioClip) -> npt.NDArray[np.float32]:
        # column k = k (so a window names its start), 4 identical bands
        cols = int(audio.duration_s * self.feature_rate_hz)
        return np.tile(np.arange(cols, dtype=np.float32), (4, 1))

    def running(self, threads: int | None = None) -> Any:
        import contextlib

        @contextlib.contextmanager
        def ctx() -> Any:
            self.entered += 1
            yield
            self.exited += 1

        return ctx()

    def sync(
        self, faces: npt.NDArray[np.uint8], mels: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.uint8]:
        self.face_shapes.append(faces.shape)
        self.window_shapes.append(mels.shape)
        out = np.empty_like(faces)
        for k, win in enumerate(mels):
            out[k] = np.uint8(int(win[0, 0]) % 256)
        return out


def test_a_syncer_with_other_features_and_crop_size_plugs_in() -> None:
    syncer = EnergySyncer()
    frames = [np.full((48, 64, 3), 7, np.uint8) for _ in range(20)]
    audio = AudioClip.silence(0.8, 16000)
    opts = LipSyncOptions(box=BOX, fps=25, batch_size=4, feather=0.0, mouth_only=False)
    with lipsync_stream(frames, audio, syncer=syncer, options=opts) as stream:
        out = list(stream)
    assert len(out) == 20 and stream.stats.frames_synced == 20
    assert {s[1:] for s in syncer.face_shapes} == {(48, 48, 3)}
    assert {s[1:] for s in syncer.window_shapes} == {(4, 5)}
    assert syncer.entered == syncer.exited == 1
    # frame i is driven by the window starting at int(i * 50 / 25) = 2 i (clamped)
    last_start = 40 - 5
    for i, frame in enumerate(out):
        assert int(frame[24, 32, 0]) == min(2 * i, last_start), i
        assert int(frame[0, 0, 0]) == 7  # outside the box: untouched


def test_default_audio_window_follows_the_feature_rate() -> None:
    syncer = EnergySyncer()
    feats = np.tile(np.arange(100, dtype=np.float32), (4, 1))
    assert syncer.audio_window(feats, 3, Fraction(30000, 1001))[0, 0] == int(3 * 50 * 1001 / 30000)
    assert syncer.audio_window(feats, 1000, 25).shape == (4, 5)  # clamped inside
    short = feats[:, :2]
    assert syncer.audio_window(short, 0, 25).tolist()[0] == [0, 1, 1, 1, 1]


def test_the_tracker_bound_comes_from_the_tracker() -> None:
    tracker = FaceTracker(FakeFaceDetector(box=BOX), detect_every=3, max_gap=5, smooth_window=5)
    frames = [np.full((48, 64, 3), 100, np.uint8) for _ in range(10)]
    with lipsync_stream(
        frames,
        AudioClip.silence(0.4, 16000),
        syncer="passthrough",
        fps=25,
        tracker=tracker,
        batch_size=2,
    ) as stream:
        out = list(stream)
    q = frame_queue_size(64 * 48 * 3)
    bound = stream.stats.frames_in_flight_bound
    assert bound == 3 * q + 2 * 5 + 4 + tracker.lookahead_frames
    assert len(out) == 10 and stream.stats.frames_in_flight_peak <= bound


def test_queues_are_sized_in_bytes() -> None:
    assert frame_queue_size(64 * 48 * 3) == 8
    assert frame_queue_size(1280 * 720 * 3) == 6
    assert frame_queue_size(1920 * 1080 * 3) == 2
    assert frame_queue_size(3840 * 2160 * 3) == 2


def test_options_are_one_frozen_object_and_keywords_override_it() -> None:
    opts = LipSyncOptions(batch_size=4)
    with pytest.raises(AttributeError):
        opts.batch_size = 5  # type: ignore[misc]
    assert opts.replace(crf=20).crf == 20 and opts.replace(crf=20).batch_size == 4
    with pytest.raises(InputError, match="unknown lip-sync option"):
        opts.replace(bach_size=3)
    with pytest.raises(InputError, match="only one of"):
        LipSyncOptions(box=BOX, detector="fake")


def test_engine_modules_import_no_torch() -> None:
    code = (
        "import sys\n"
        "import lipdub.lipsync.engine, lipdub.lipsync.syncstream, lipdub.lipsync.blend\n"
        "import lipdub.lipsync.schedule, lipdub.lipsync.sources, lipdub.lipsync.boxes\n"
        "import lipdub.lipsync.options, lipdub.lipsync.results, lipdub.lipsync.base\n"
        "import lipdub.lipsync.mask, lipdub.lipsync.wav2lip_int8\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
