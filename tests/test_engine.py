"""The whole-video lip-sync engine (lipdub/lipsync/engine.py), with fakes and tiny clips."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pytest

from lipdub.audio import frames_for_audio
from lipdub.errors import InputError, LipdubError, MediaError, PipelineError
from lipdub.events import EventRecorder, StageFinished, StageWarning
from lipdub.faces.base import FaceDetector, Frame
from lipdub.faces.track import FaceTrack, FaceTracker
from lipdub.lipsync.base import LipSyncer
from lipdub.lipsync.engine import (
    LipSyncResult,
    lipsync,
    lipsync_stream,
    replay_index,
)
from lipdub.media import iter_frames, load_audio, probe
from lipdub.testing import FakeFaceDetector, PassThroughLipSyncer
from lipdub.testing.media import make_portrait, make_test_video, speech_tones
from lipdub.types import AudioClip, FaceBox

BOX = (16.0, 12.0, 48.0, 40.0)  # inside a 64x48 frame


def numbered_frames(n: int, size: tuple[int, int] = (64, 48)) -> list[Frame]:
    """Frames whose pixels all equal their index (mod 256): easy to identify."""
    w, h = size
    return [np.full((h, w, 3), i % 256, np.uint8) for i in range(n)]


def ids(frames: Sequence[Frame]) -> list[int]:
    return [int(f[0, 0, 0]) for f in frames]


class InvertingSyncer(LipSyncer):
    """A visible "lip-sync": returns the negative of each crop; counts its frames."""

    name: ClassVar[str] = "invert"

    def __init__(self) -> None:
        self.frames = 0

    def settings(self) -> dict[str, Any]:
        return {}

    def sync(
        self, faces: npt.NDArray[np.uint8], mels: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.uint8]:
        assert faces.shape[1:] == (96, 96, 3) and mels.shape[1:] == (80, 16)
        self.frames += len(faces)
        return 255 - faces


class FailingSyncer(LipSyncer):
    """Raises on its ``fail_on``-th call."""

    name: ClassVar[str] = "failing"

    def __init__(self, fail_on: int = 1, error: Exception | None = None) -> None:
        self.calls = 0
        self.fail_on = fail_on
        self.error = error or RuntimeError("syncer exploded")

    def settings(self) -> dict[str, Any]:
        return {"fail_on": self.fail_on}

    def sync(
        self, faces: npt.NDArray[np.uint8], mels: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.uint8]:
        self.calls += 1
        if self.calls >= self.fail_on:
            raise self.error
        return faces.copy()


class FailingDetector(FaceDetector):
    name: ClassVar[str] = "failing"

    def settings(self) -> dict[str, Any]:
        return {}

    def detect(self, frames: Sequence[Frame]) -> list[list[FaceBox]]:
        raise RuntimeError("detector exploded")


def run_stream(face: Any, audio: AudioClip, **kwargs: Any) -> tuple[list[Frame], Any]:
    kwargs.setdefault("syncer", PassThroughLipSyncer())
    kwargs.setdefault("fps", 25)
    with lipsync_stream(face, audio, **kwargs) as stream:
        frames = list(stream)
    return frames, stream


def run_bounded(fn: Any, timeout_s: float = 10.0) -> BaseException | None:
    """Run ``fn`` in a thread; fail if it does not return in time; return what it raised."""
    box: dict[str, BaseException | None] = {"err": None}

    def target() -> None:
        try:
            fn()
        except BaseException as e:
            box["err"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout_s)
    assert not t.is_alive(), f"the run did not end within {timeout_s} s"
    return box["err"]


def no_outputs(folder: Path, name: str) -> bool:
    return not (folder / name).exists() and not list(folder.glob(f".{name}.*"))


# ------------------------------------------------------------------ frame arithmetic


@pytest.mark.parametrize("fps", [25, Fraction(30000, 1001)])
@pytest.mark.parametrize("seconds", [0.5, 1.37, 2.0])
def test_output_frames_cover_the_audio(fps: Fraction, seconds: float) -> None:
    audio = speech_tones(seconds)
    frames, stream = run_stream(numbered_frames(200), audio, fps=fps, box=BOX)
    want = frames_for_audio(seconds, fps)
    assert len(frames) == want == stream.stats.frames_total
    assert abs(len(frames) / float(fps) - seconds) <= 1 / float(fps)
    assert ids(frames) == list(range(want))  # trimmed, in order


def test_frame_counts_for_25_and_2997_fps() -> None:
    audio = speech_tones(2.0)
    assert len(run_stream(numbered_frames(10), audio, fps=25, box=BOX)[0]) == 50
    assert len(run_stream(numbered_frames(10), audio, fps=Fraction(30000, 1001), box=BOX)[0]) == 60


def test_pingpong_replays_back_and_forth() -> None:
    assert [replay_index(i, 4) for i in range(12)] == [0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1]
    assert [replay_index(i, 1) for i in range(3)] == [0, 0, 0]
    frames, stream = run_stream(numbered_frames(5), speech_tones(0.56), box=BOX)  # 14 frames
    assert ids(frames) == [0, 1, 2, 3, 4, 3, 2, 1, 0, 1, 2, 3, 4, 3]
    assert stream.stats.frames_replayed == 9 and stream.stats.frames_synced == 14


def test_loop_mode_restarts_like_the_original() -> None:
    frames, _ = run_stream(numbered_frames(4), speech_tones(0.4), box=BOX, audio_longer="loop")
    assert ids(frames) == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]


def test_pingpong_from_an_iterator_spools_to_disk() -> None:
    frames, stream = run_stream(iter(numbered_frames(6)), speech_tones(0.6), box=BOX)
    assert ids(frames) == [0, 1, 2, 3, 4, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4]
    assert stream.stats.frames_spooled == 6


def test_pingpong_from_a_video_file_is_byte_exact(tmp_path: Path) -> None:
    clip = make_test_video(tmp_path / "v.mp4", duration_s=0.4, size=(64, 48), audio=False)
    source = list(iter_frames(clip))
    n = len(source)
    # speech_spans=[] -> nothing synced, every frame is the decoded source frame
    frames, stream = run_stream(clip, speech_tones(1.0), fps=None, box=BOX, speech_spans=[])
    assert len(frames) == 25
    for i, f in enumerate(frames):
        assert np.array_equal(f, source[replay_index(i, n)]), i
    assert 0 < stream.stats.frames_spooled < n + 1  # only frames a replay shows


def test_audio_shorter_trim_and_keep() -> None:
    src = numbered_frames(30)
    trimmed, _ = run_stream(src, speech_tones(0.4), box=BOX)
    assert ids(trimmed) == list(range(10))
    kept, stream = run_stream(
        src, speech_tones(0.4), box=BOX, syncer=InvertingSyncer(), audio_shorter="keep"
    )
    assert len(kept) == 30
    assert stream.stats.frames_synced == 10 and stream.stats.frames_after_audio == 20
    for i in range(10, 30):  # after the audio: the original frames, untouched
        assert np.array_equal(kept[i], src[i])
    assert not np.array_equal(kept[0], src[0])


def test_still_image_makes_a_video_as_long_as_the_audio(tmp_path: Path) -> None:
    portrait = make_portrait(tmp_path / "p.png", size=(96, 96))
    out = tmp_path / "out.mp4"
    res = lipsync(
        portrait,
        speech_tones(1.3),
        out,
        syncer=PassThroughLipSyncer(),
        box=(20, 20, 76, 76),
        preset="ultrafast",
    )
    assert res.frames_total == frames_for_audio(1.3, 25) == 33
    info = probe(out)
    assert info.fps == 25 and info.frame_count == 33
    assert abs(info.duration_s - 1.3) <= 1 / 25 + 1e-6
    assert abs(load_audio(out).duration_s - 1.3) < 0.05
    assert res.fps == 25 and res.duration_s == pytest.approx(33 / 25)


def test_video_output_duration_matches_audio(tmp_path: Path) -> None:
    clip = make_test_video(tmp_path / "in.mp4", duration_s=1.0, size=(160, 120))
    out = tmp_path / "out.mp4"
    res = lipsync(
        clip,
        speech_tones(1.5),
        out,
        syncer=InvertingSyncer(),
        detector=FakeFaceDetector(),
        preset="ultrafast",
    )
    assert isinstance(res, LipSyncResult)
    info = probe(out)
    assert info.frame_count == res.frames_total == 38
    assert abs(info.duration_s - 1.5) <= 1 / 25 + 1e-6
    assert info.has_audio and abs(load_audio(out).duration_s - 1.5) < 0.05
    assert res.frames_synced == 38 and res.frames_no_face == 0
    assert set(res.stage_busy_s) >= {"decode", "track", "crop", "generate", "blend", "encode"}


def test_output_audio_is_muxed_instead_of_the_driving_audio(tmp_path: Path) -> None:
    frames = numbered_frames(10)
    out = tmp_path / "o.mp4"
    remix = AudioClip(np.full(16000, 0.25, np.float32), 16000)  # louder, 1 s
    lipsync(
        frames,
        speech_tones(1.0),
        out,
        syncer=PassThroughLipSyncer(),
        fps=25,
        box=BOX,
        output_audio=remix,
        preset="ultrafast",
    )
    muxed = load_audio(out)
    assert abs(muxed.duration_s - 1.0) < 0.05


# ------------------------------------------------------------------ untouched frames


def test_no_face_frames_pass_through_byte_identical(caplog: pytest.LogCaptureFixture) -> None:
    src = numbered_frames(40)
    for i in range(10, 30):
        src[i] = np.zeros_like(src[i])  # the "face" leaves: dark frames
    for i in list(range(10)) + list(range(30, 40)):
        src[i] = np.full_like(src[i], 200)
    tracker = FaceTracker(
        FakeFaceDetector(box=BOX, min_brightness=50), detect_every=1, max_gap=0, smooth_window=1
    )
    rec = EventRecorder()
    syncer = InvertingSyncer()
    with caplog.at_level(logging.WARNING, logger="lipdub.lipsync.engine"):
        frames, stream = run_stream(
            src, speech_tones(1.6), tracker=tracker, syncer=syncer, on_event=rec
        )
    assert len(frames) == 40
    for i in range(10, 30):
        assert np.array_equal(frames[i], src[i]), i
    assert not np.array_equal(frames[0], src[0])
    assert stream.stats.frames_no_face == 20 and stream.stats.frames_synced == 20
    assert syncer.frames == 20
    warnings = [e for e in rec.events if isinstance(e, StageWarning)]
    assert len(warnings) == 1 and "20 of 40 frames had no face" in warnings[0].message
    assert "20 of 40 frames had no face" in caplog.text
    assert rec.stages() == ["lipsync"]
    assert isinstance(rec.events[-1], StageFinished)


def test_frames_outside_speech_spans_are_untouched_and_not_synced() -> None:
    src = numbered_frames(50)
    syncer = InvertingSyncer()
    frames, stream = run_stream(
        src, speech_tones(2.0), box=BOX, syncer=syncer, speech_spans=[(0.4, 0.8), (1.2, 1.4)]
    )
    inside = {i for i in range(50) if (i + 1) / 25 > 0.4 and i / 25 < 0.8}
    inside |= {i for i in range(50) if (i + 1) / 25 > 1.2 and i / 25 < 1.4}
    for i in range(50):
        assert np.array_equal(frames[i], src[i]) == (i not in inside), i
    assert syncer.frames == len(inside) == stream.stats.frames_synced
    assert stream.stats.frames_outside_speech == 50 - len(inside)


def test_precomputed_track_drives_the_boxes() -> None:
    src = numbered_frames(6)
    boxes = (FaceBox(*BOX), None, FaceBox(*BOX), None, FaceBox(*BOX), FaceBox(*BOX))
    frames, stream = run_stream(
        src, speech_tones(0.24), track=FaceTrack(boxes), syncer=InvertingSyncer()
    )
    assert [not np.array_equal(a, b) for a, b in zip(frames, src, strict=True)] == [
        True,
        False,
        True,
        False,
        True,
        True,
    ]
    assert stream.stats.frames_no_face == 2


# ------------------------------------------------------------------ errors


def test_syncer_error_ends_the_run_and_leaves_no_file(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"

    def run() -> None:
        lipsync(
            iter(numbered_frames(400)),
            speech_tones(16.0),
            out,
            fps=25,
            box=BOX,
            syncer=FailingSyncer(fail_on=3),
            batch_size=4,
            preset="ultrafast",
        )

    err = run_bounded(run)
    assert isinstance(err, PipelineError) and "'generate'" in str(err)
    assert isinstance(err.__cause__, RuntimeError)
    assert no_outputs(tmp_path, "out.mp4")


def test_typed_errors_from_a_stage_are_raised_as_they_are(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    typed = InputError("bad crop", hint="fix it")
    err = run_bounded(
        lambda: lipsync(
            numbered_frames(30),
            speech_tones(1.0),
            out,
            fps=25,
            box=BOX,
            syncer=FailingSyncer(error=typed),
            preset="ultrafast",
        )
    )
    assert err is typed
    assert no_outputs(tmp_path, "out.mp4")


def test_detector_error_ends_the_run(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    err = run_bounded(
        lambda: lipsync(
            numbered_frames(30),
            speech_tones(1.0),
            out,
            fps=25,
            detector=FailingDetector(),
            syncer=PassThroughLipSyncer(),
            preset="ultrafast",
        )
    )
    assert isinstance(err, PipelineError) and "'track'" in str(err)
    assert no_outputs(tmp_path, "out.mp4")


def test_frame_iterator_error_ends_the_run(tmp_path: Path) -> None:
    def frames() -> Iterator[Frame]:
        yield from numbered_frames(20)
        raise OSError("camera unplugged")

    out = tmp_path / "out.mp4"
    err = run_bounded(
        lambda: lipsync(
            frames(),
            speech_tones(2.0),
            out,
            fps=25,
            box=BOX,
            syncer=PassThroughLipSyncer(),
            preset="ultrafast",
        )
    )
    assert isinstance(err, PipelineError) and "'decode'" in str(err)
    assert isinstance(err.__cause__, OSError)
    assert no_outputs(tmp_path, "out.mp4")


def test_bad_frame_mid_stream_is_an_input_error(tmp_path: Path) -> None:
    src = numbered_frames(12)
    src[7] = np.zeros((10, 10, 3), np.uint8)
    out = tmp_path / "out.mp4"
    err = run_bounded(
        lambda: lipsync(
            iter(src),
            speech_tones(0.5),
            out,
            fps=25,
            box=BOX,
            syncer=PassThroughLipSyncer(),
            preset="ultrafast",
        )
    )
    assert isinstance(err, InputError) and "frame 7" in str(err)
    assert no_outputs(tmp_path, "out.mp4")


def test_unwritable_output_is_a_media_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    out = blocker / "out.mp4"
    err = run_bounded(
        lambda: lipsync(
            numbered_frames(10),
            speech_tones(0.4),
            out,
            fps=25,
            box=BOX,
            syncer=PassThroughLipSyncer(),
            preset="ultrafast",
        )
    )
    assert isinstance(err, MediaError) and isinstance(err, LipdubError)
    assert not out.exists()


def test_bad_arguments() -> None:
    audio = speech_tones(0.4)
    with pytest.raises(InputError, match="fps is required"):
        lipsync_stream(iter(numbered_frames(3)), audio, syncer=PassThroughLipSyncer(), box=BOX)
    with pytest.raises(InputError, match="audio_longer"):
        lipsync_stream(
            numbered_frames(3),
            audio,
            syncer=PassThroughLipSyncer(),
            fps=25,
            box=BOX,
            audio_longer="bounce",  # type: ignore[arg-type]
        )
    with pytest.raises(InputError, match="only one"):
        lipsync_stream(
            numbered_frames(3),
            audio,
            syncer=PassThroughLipSyncer(),
            fps=25,
            box=BOX,
            detector=FakeFaceDetector(),
        )
    with pytest.raises(MediaError):
        lipsync_stream("/nonexistent/clip.mp4", audio, syncer=PassThroughLipSyncer(), box=BOX)


def test_closing_early_stops_the_threads() -> None:
    stream = lipsync_stream(
        iter(numbered_frames(3000)),
        speech_tones(120.0),
        syncer=PassThroughLipSyncer(),
        fps=25,
        box=BOX,
    )
    it = iter(stream)
    for _ in range(5):
        next(it)
    stream.close()
    assert not any(t.is_alive() for t in stream.pipeline._threads)


# ------------------------------------------------------------------ memory


def test_memory_is_bounded_over_a_long_stream() -> None:
    n = 3000
    frames = (np.full((24, 32, 3), i % 256, np.uint8) for i in range(n))
    out, stream = run_stream(frames, speech_tones(n / 25), box=(4, 4, 28, 20), batch_size=8)
    assert len(out) == n
    s = stream.stats
    for name, peak in s.queue_peaks.items():
        assert peak <= s.queue_bounds[name], name
    assert s.frames_in_flight_bound is not None
    assert s.frames_in_flight_peak <= s.frames_in_flight_bound < 100


def test_memory_is_bounded_while_replaying() -> None:
    # 300 source frames ping-ponged to 1200: replays come from the disk spool
    frames = (np.full((24, 32, 3), i % 256, np.uint8) for i in range(300))
    out, stream = run_stream(frames, speech_tones(48.0), box=(4, 4, 28, 20), batch_size=8)
    assert len(out) == 1200 and stream.stats.frames_replayed == 900
    assert stream.stats.frames_in_flight_bound is not None
    assert stream.stats.frames_in_flight_peak <= stream.stats.frames_in_flight_bound


# ------------------------------------------------------------------ GPU


@pytest.mark.cuda
def test_wav2lip_on_cuda_through_the_engine(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    from lipdub.lipsync.wav2lip import Wav2LipSyncer
    from lipdub.testing.checkpoints import write_random_wav2lip_checkpoint

    ckpt = write_random_wav2lip_checkpoint(tmp_path / "w.pth")
    syncer = Wav2LipSyncer.from_pretrained(ckpt, device="cuda")
    clip = make_test_video(tmp_path / "in.mp4", duration_s=2.0, size=(320, 240))
    res = lipsync(
        clip,
        speech_tones(2.0),
        tmp_path / "out.mp4",
        syncer=syncer,
        detector=FakeFaceDetector(),
        preset="ultrafast",
    )
    assert res.frames_total == 50 and res.frames_synced == 50
    assert res.stats.batch_size >= 16


class RecordingSyncer(PassThroughLipSyncer):
    """Records the batch shapes it sees and whether ``compile()`` was called."""

    def __init__(self) -> None:
        super().__init__()
        self.shapes: list[tuple[int, ...]] = []
        self.compiled = False

    def compile(self) -> None:
        self.compiled = True

    def sync(
        self, faces: npt.NDArray[np.uint8], mels: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.uint8]:
        self.shapes.append(faces.shape)
        return super().sync(faces, mels)


def test_compile_feeds_fixed_shape_batches() -> None:
    syncer = RecordingSyncer()
    src = numbered_frames(21)
    frames, _ = run_stream(
        src, speech_tones(0.84), box=BOX, syncer=syncer, batch_size=8, compile=True
    )
    assert syncer.compiled
    assert [s[0] for s in syncer.shapes] == [8, 8, 8]  # 21 crops, the last batch padded
    assert len(frames) == 21
    assert all(np.array_equal(a, b) for a, b in zip(frames, src, strict=True))


def test_auto_batch_size_keeps_frames_within_the_host_budget() -> None:
    from lipdub.lipsync.engine import auto_batch_size

    syncer = PassThroughLipSyncer()
    assert auto_batch_size(syncer, 64 * 48 * 3) == 8  # CPU
    assert auto_batch_size(syncer, 1920 * 1080 * 3) <= 12
    assert auto_batch_size(syncer, 8000 * 8000 * 3) == 1


def test_detector_runs_only_on_frames_in_speech() -> None:
    detector = FakeFaceDetector(box=BOX)
    tracker = FaceTracker(detector, detect_every=1, smooth_window=1)
    src = numbered_frames(50)
    frames, stream = run_stream(src, speech_tones(2.0), tracker=tracker, speech_spans=[(0.4, 0.8)])
    assert len(frames) == 50
    assert stream.stats.frames_synced == 10  # frames 10..19
    assert detector.frames_seen == 10


def test_keep_pads_the_muxed_audio_to_the_video(tmp_path: Path) -> None:
    clip = make_test_video(tmp_path / "in.mp4", duration_s=1.0, size=(64, 48), audio=False)
    out = tmp_path / "out.mp4"
    res = lipsync(
        clip,
        speech_tones(0.4),
        out,
        syncer=PassThroughLipSyncer(),
        box=BOX,
        audio_shorter="keep",
        preset="ultrafast",
    )
    assert res.frames_total == 25 and res.frames_synced == 10
    assert res.stats.frames_after_audio == 15
    assert probe(out).frame_count == 25
    assert abs(load_audio(out).duration_s - 1.0) < 0.05
