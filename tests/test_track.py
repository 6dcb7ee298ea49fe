"""FaceTracker: sparse detection, interpolation, gap bridging, smoothing, scene cuts."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lipdub.errors import InputError, MediaError, NoFaceError
from lipdub.faces.base import FaceDetector, Frame
from lipdub.faces.track import FaceTrack, FaceTracker, pad_box, require_face, track_cache_key
from lipdub.testing import BrightRegionDetector, FakeFaceDetector
from lipdub.types import FaceBox

W, H, SIDE = 320, 180, 40


def square_at(x: float, y: float = 60, *, side: int = SIDE, bg: int = 0) -> Frame:
    frame = np.full((H, W, 3), bg, np.uint8)
    frame[int(y) : int(y) + side, int(x) : int(x) + side] = 255
    return frame


def moving(
    n: int, *, speed: float = 1.0, x0: float = 20, blank: Sequence[int] = ()
) -> Iterator[Frame]:
    for i in range(n):
        yield np.zeros((H, W, 3), np.uint8) if i in blank else square_at(x0 + speed * i)


class CountingDetector(FaceDetector):
    """BrightRegionDetector that records which frames (by a pixel tag) it was shown."""

    def __init__(self) -> None:
        self.inner = BrightRegionDetector()
        self.calls = 0
        self.frames = 0

    def settings(self) -> dict[str, Any]:
        return self.inner.settings()

    def detect(self, frames: Sequence[Frame]) -> list[list[FaceBox]]:
        self.calls += 1
        self.frames += len(frames)
        return self.inner.detect(frames)


def test_detects_every_nth_frame_and_interpolates_exactly() -> None:
    det = CountingDetector()
    tracker = FaceTracker(det, detect_every=5, smooth_window=1)
    boxes = [b for _, b in tracker.stream(moving(41, speed=1.0))]
    assert len(boxes) == 41
    assert det.frames == 9  # frames 0, 5, ..., 40
    for i, b in enumerate(boxes):
        assert b is not None
        assert b.as_tuple() == pytest.approx((20 + i, 60, 20 + i + SIDE, 60 + SIDE))


def test_stream_keeps_order_and_frame_objects() -> None:
    frames = list(moving(23))
    out = list(FaceTracker(BrightRegionDetector(), detect_every=4).stream(iter(frames)))
    assert [id(f) for f, _ in out] == [id(f) for f in frames]


def test_smoothing_does_not_lag_a_moving_box() -> None:
    # 2 px/frame, and the detector's box jitters by +-1 px from frame to frame
    frames = [square_at(20 + 2 * i + (i % 2)) for i in range(40)]
    tracker = FaceTracker(BrightRegionDetector(), detect_every=1, smooth_window=5)
    boxes = tracker.track(frames).boxes
    truth = [20 + 2 * i + 0.5 for i in range(40)]  # the jitter-free path
    errors = [b.x1 - t for b, t in zip(boxes, truth, strict=True) if b is not None]
    assert len(errors) == 40
    assert abs(float(np.mean(errors[2:-2]))) < 0.15  # no lag (a lag of d frames shows as -2d)
    assert max(abs(e) for e in errors[2:-2]) <= 0.3  # jitter of +-0.5 averaged away
    assert {round(b.width, 6) for b in boxes if b is not None} == {SIDE}  # size stays put
    raw_jitter = max(abs(20 + 2 * i + (i % 2) - truth[i]) for i in range(40))
    assert raw_jitter == 0.5


def test_gaps_up_to_max_gap_are_bridged_and_longer_ones_are_empty() -> None:
    blank = list(range(10, 13)) + list(range(20, 30))
    tracker = FaceTracker(BrightRegionDetector(), detect_every=1, max_gap=3, smooth_window=1)
    boxes = tracker.track(moving(40, blank=blank)).boxes
    for i in range(10, 13):  # bridged by interpolation
        assert boxes[i] is not None
        assert boxes[i].x1 == pytest.approx(20 + i)
    assert all(boxes[i] is None for i in range(20, 30))
    assert boxes[19] is not None and boxes[30] is not None
    assert tracker.stats.bridged == 3


def test_face_leaving_between_keyframes_is_found_to_the_frame() -> None:
    tracker = FaceTracker(BrightRegionDetector(), detect_every=8, max_gap=0, smooth_window=1)
    boxes = tracker.track(moving(40, blank=range(13, 40))).boxes
    assert [b is not None for b in boxes] == [True] * 13 + [False] * 27


def test_scene_cut_triggers_detection_and_resets_smoothing() -> None:
    # scene A: square still at x=30; scene B (grey background): square still at x=200
    frames = [square_at(30) for _ in range(12)] + [square_at(200, bg=90) for _ in range(12)]
    det = CountingDetector()
    tracker = FaceTracker(det, detect_every=100, smooth_window=9)
    boxes = tracker.track(frames).boxes
    assert tracker.stats.scene_cuts == 1
    assert det.frames == 4  # first and last frame of each scene
    assert all(b is not None and b.x1 == 30 for b in boxes[:12])  # no blending across the cut
    assert all(b is not None and b.x1 == 200 for b in boxes[12:])


def test_without_scene_cut_detection_interpolation_would_blend() -> None:
    frames = [square_at(30) for _ in range(12)] + [square_at(200, bg=90) for _ in range(12)]
    tracker = FaceTracker(
        BrightRegionDetector(),
        detect_every=100,
        scene_cut_threshold=None,
        redetect_iou=0.0,
        crop_change_threshold=None,
    )
    boxes = tracker.track(frames).boxes
    assert boxes[6] is not None and 30 < boxes[6].x1 < 200


def test_fast_motion_triggers_extra_detections() -> None:
    det = CountingDetector()
    boxes = FaceTracker(det, detect_every=8, smooth_window=1).track(moving(33, speed=6)).boxes
    assert det.frames > 5  # IoU between keyframes 8 frames apart is 0: bisected
    for i, b in enumerate(boxes):
        assert b is not None and b.x1 == pytest.approx(20 + 6 * i, abs=1.0)


def test_downscaled_detection_maps_back() -> None:
    frame = np.zeros((720, 1280, 3), np.uint8)
    frame[300:500, 600:760] = 255
    tracker = FaceTracker(BrightRegionDetector(), max_side=320, smooth_window=1)
    (box,) = tracker.track([frame]).boxes
    assert box is not None and box.as_tuple() == (600.0, 300.0, 760.0, 500.0)


def test_select_and_region() -> None:
    def two_faces() -> Frame:
        f = np.zeros((H, W, 3), np.uint8)
        f[10:70, 10:70] = 255  # big, top-left
        f[70:110, 140:180] = 255  # small, central
        return f

    class Blobs(FaceDetector):
        def settings(self) -> dict[str, Any]:
            return {}

        def detect(self, frames: Sequence[Frame]) -> list[list[FaceBox]]:
            return [[FaceBox(10, 10, 70, 70, 0.9), FaceBox(140, 70, 180, 110, 0.8)] for _ in frames]

    largest = FaceTracker(Blobs()).track([two_faces()]).boxes[0]
    central = FaceTracker(Blobs(), select="central").track([two_faces()]).boxes[0]
    chosen = (
        FaceTracker(Blobs(), select=lambda faces, frame: faces[-1]).track([two_faces()]).boxes[0]
    )
    assert largest is not None and largest.x1 == 10
    assert central is not None and central.x1 == 140
    assert chosen is not None and chosen.x1 == 140
    regional = FaceTracker(BrightRegionDetector(), region=(100, 50, 250, 150)).track([two_faces()])
    assert regional.boxes[0] is not None and regional.boxes[0].as_tuple() == (140, 70, 180, 110)
    with pytest.raises(InputError):
        FaceTracker(Blobs(), select="biggest")  # type: ignore[arg-type]
    with pytest.raises(InputError):
        FaceTracker(Blobs(), region=(10, 10, 5, 20))


def test_memory_is_bounded_by_lookahead() -> None:
    pulled = 0

    def endless() -> Iterator[Frame]:
        nonlocal pulled
        frame = square_at(50)
        while True:
            pulled += 1
            yield frame

    tracker = FaceTracker(
        BrightRegionDetector(), detect_every=5, max_gap=4, smooth_window=5, batch_size=2
    )
    stream = tracker.stream(endless())
    for n in range(1, 200):
        next(stream)
        assert pulled - n <= tracker.lookahead_frames == 2 * 5 + 4 + 2 + 1
    stream.close()


def test_no_face_frames_are_none_and_require_face() -> None:
    dark = [np.zeros((H, W, 3), np.uint8)] * 7
    track = FaceTracker(FakeFaceDetector(min_brightness=10)).track(dark, fps=25.0)
    assert track.boxes == (None,) * 7 and track.num_faces == 0
    with pytest.raises(NoFaceError, match="7 frames"):
        require_face(track, source="clip.mp4")
    some = FaceTracker(BrightRegionDetector()).track(moving(3))
    assert require_face(some) is some


def test_face_track_save_load_round_trip(tmp_path: Path) -> None:
    lm = ((1.0, 2.0), (3.0, 4.0))
    track = FaceTrack((FaceBox(1, 2, 30, 40.5, 0.75, lm), None), fps=29.97, settings={"a": 1})
    path = track.save(tmp_path / "t" / "track.json")
    assert FaceTrack.load(path) == track
    assert not [p for p in path.parent.iterdir() if p.name != "track.json"]  # atomic, no temp
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(MediaError):
        FaceTrack.load(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"boxes": []}')
    with pytest.raises(InputError, match="face track"):
        FaceTrack.load(tmp_path / "other.json")


def test_track_cache_key(tmp_path: Path) -> None:
    video = tmp_path / "a.mp4"
    video.write_bytes(os.urandom(3 << 20))
    settings = FaceTracker(BrightRegionDetector()).settings
    key = track_cache_key(video, settings)
    copy = tmp_path / "b.mp4"
    copy.write_bytes(video.read_bytes())
    os.utime(copy, (1, 1))
    assert track_cache_key(copy, settings) == key  # name and mtime do not matter
    assert track_cache_key(video, {**settings, "detect_every": 2}) != key
    data = bytearray(video.read_bytes())
    data[-10] ^= 0xFF
    copy.write_bytes(bytes(data))
    assert track_cache_key(copy, settings) != key  # the last MiB is hashed
    assert len(key) == 20
    from lipdub.faces.haar import HaarFaceDetector

    strict = FaceTracker(HaarFaceDetector(min_neighbors=9)).settings
    loose = FaceTracker(HaarFaceDetector(min_neighbors=3)).settings
    assert track_cache_key(video, strict) != track_cache_key(video, loose)
    with pytest.raises(MediaError):
        track_cache_key(tmp_path / "missing.mp4", settings)


def test_pad_box_clips_to_frame() -> None:
    box = pad_box(FaceBox(10, 10, 50, 50), (5, 10, 20, 0), width=60, height=55)
    assert box.as_tuple() == (0.0, 5.0, 50.0, 55.0)


def test_changed_crop_between_keyframes_is_redetected() -> None:
    """The face vanishes for 2 frames between two keyframes that both see it."""
    blank = (3, 4)
    frames = [np.zeros((H, W, 3), np.uint8) if i in blank else square_at(50) for i in range(9)]
    tracker = FaceTracker(BrightRegionDetector(), detect_every=8, max_gap=0, smooth_window=1)
    boxes = tracker.track(frames).boxes
    assert [b is None for b in boxes] == [i in blank for i in range(9)]
    off = FaceTracker(
        BrightRegionDetector(),
        detect_every=8,
        max_gap=0,
        smooth_window=1,
        crop_change_threshold=None,
    )
    assert all(b is not None for b in off.track(frames).boxes)  # interpolated blindly
