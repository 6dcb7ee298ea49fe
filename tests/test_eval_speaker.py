"""Active speaker: stable face ids, the per-span choice, and lip-sync of only that face."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from lipdub.eval.speaker import SpanChoice, choose_faces, chosen_track, link_faces
from lipdub.faces.track import FaceTrack
from lipdub.testing import PassThroughLipSyncer
from lipdub.types import FaceBox

LEFT = FaceBox(8, 16, 56, 80)
RIGHT = FaceBox(104, 16, 152, 80)


def test_link_faces_keeps_ids_when_order_and_presence_change() -> None:
    moved = FaceBox(110, 18, 158, 82)
    faces = link_faces([[LEFT, RIGHT], [RIGHT, LEFT], [moved], [], [LEFT, moved]])
    assert sorted(faces) == [0, 1]
    assert faces[0] == [LEFT, LEFT, None, None, LEFT]
    assert faces[1] == [RIGHT, RIGHT, moved, None, moved]


def test_choose_faces_picks_the_best_scored_face_per_span() -> None:
    faces = link_faces([[LEFT, RIGHT]] * 50)
    wanted = {(0, 25): 1, (25, 50): 0}

    def score(fid: int, a: int, b: int) -> float:  # an injected scorer
        return 1.0 if wanted[(a, b)] == fid else 0.0

    choices = choose_faces(faces, [(0.0, 1.0), (1.0, 2.0)], score, fps=25)
    assert [c.face_id for c in choices] == [1, 0]
    assert choices[0].scores == {0: 0.0, 1: 1.0}


class _Inverting(PassThroughLipSyncer):
    """Changes every crop it is given, so a changed pixel shows where it pasted."""

    def sync(
        self, faces: npt.NDArray[np.uint8], mels: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.uint8]:
        return np.ascontiguousarray(255 - super().sync(faces, mels))


def test_two_face_clip_changes_only_the_chosen_face(tmp_path: Path) -> None:
    from lipdub.lipsync.engine import lipsync_stream
    from lipdub.media import VideoReader, write_video
    from lipdub.testing.media import speech_tones

    rng = np.random.default_rng(0)
    frames = []
    for _ in range(25):
        f = np.full((96, 160, 3), 30, np.uint8)
        for box in (LEFT, RIGHT):
            x1, y1, x2, y2 = box.to_int()
            f[y1:y2, x1:x2] = rng.integers(120, 220, (y2 - y1, x2 - x1, 3), dtype=np.uint8)
        frames.append(f)
    video = write_video(tmp_path / "two.mp4", frames, fps=25, audio=speech_tones(1.0))
    with VideoReader(video) as reader:
        decoded = list(reader)
    faces = link_faces([[LEFT, RIGHT]] * len(decoded))
    choices = [SpanChoice(0.0, 1.0, 1, {0: 0.1, 1: 0.9})]
    track = chosen_track(faces, choices, fps=25, num_frames=len(decoded))
    assert isinstance(track, FaceTrack) and track.boxes[0] == RIGHT
    out = list(
        lipsync_stream(
            video, speech_tones(1.0), syncer=_Inverting(), track=track, speech_spans=[(0.0, 1.0)]
        )
    )
    assert len(out) == len(decoded)
    lx1, ly1, lx2, ly2 = LEFT.to_int()
    rx1, ry1, rx2, ry2 = RIGHT.to_int()
    changed = 0
    for got, src in zip(out, decoded, strict=True):
        assert np.array_equal(got[:, : rx1 - 8], src[:, : rx1 - 8])  # the left face, byte for byte
        assert np.array_equal(got[ly1:ly2, lx1:lx2], src[ly1:ly2, lx1:lx2])
        changed += int(not np.array_equal(got[ry1:ry2, rx1:rx2], src[ry1:ry2, rx1:rx2]))
    assert changed == len(out)


def test_detect_faces_links_a_detectors_faces() -> None:
    from lipdub.eval.speaker import detect_faces
    from lipdub.testing import FakeFaceDetector

    class TwoFaces(FakeFaceDetector):
        def detect(self, frames: object) -> list[list[FaceBox]]:
            return [[RIGHT, LEFT] if i % 2 else [LEFT, RIGHT] for i, _ in enumerate(frames)]  # type: ignore[call-overload]

    frames = [np.zeros((96, 160, 3), np.uint8)] * 5
    faces = detect_faces(frames, TwoFaces(), batch_size=2)
    assert faces == {0: [LEFT] * 5, 1: [RIGHT] * 5}
