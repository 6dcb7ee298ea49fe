"""The shared vocabulary: one frame check and one no-face check, used everywhere."""

from __future__ import annotations

import numpy as np
import pytest

from lipdub.errors import InputError, NoFaceError
from lipdub.faces.base import require_face_found
from lipdub.lipsync.blend import crop_face, paste_face
from lipdub.typing import check_frame


def test_check_frame_returns_the_array_itself_when_contiguous() -> None:
    frame = np.zeros((4, 6, 3), np.uint8)
    assert check_frame(frame) is frame
    view = np.zeros((4, 12, 3), np.uint8)[:, ::2]
    out = check_frame(view)
    assert out.flags.c_contiguous and out.shape == (4, 6, 3)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((4, 6), np.uint8), r"face\[0\] must be an \(H, W, 3\) uint8 BGR image.*\(4, 6\)"),
        (np.zeros((4, 6, 4), np.uint8), r"face\[0\] must be .*\(4, 6, 4\) uint8"),
        (np.zeros((4, 6, 3), np.float32), r"face\[0\] must be .*float32"),
        (np.zeros((0, 6, 3), np.uint8), r"face\[0\] is empty"),
    ],
)
def test_check_frame_names_the_frame_and_the_problem(array: np.ndarray, message: str) -> None:
    with pytest.raises(InputError, match=message):
        check_frame(array, "face[0]")


def test_blend_uses_the_same_frame_check() -> None:
    bad = np.zeros((20, 20, 3), np.float32)
    with pytest.raises(InputError, match=r"frame must be an \(H, W, 3\) uint8 BGR image"):
        crop_face(bad, (2, 2, 10, 10))
    gen = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(InputError, match=r"frame must be an \(H, W, 3\) uint8 BGR image"):
        paste_face(bad, (2, 2, 10, 10), gen)


def test_lipsync_engine_uses_the_same_frame_check(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from lipdub.lipsync.engine import lipsync
    from lipdub.testing import FakeFaceDetector, PassThroughLipSyncer
    from lipdub.types import AudioClip

    with pytest.raises(InputError, match=r"face image must be an \(H, W, 3\) uint8 BGR image"):
        lipsync(
            np.zeros((32, 32, 3), np.float32),
            AudioClip.silence(0.2, 16000),
            tmp_path / "out.mp4",
            syncer=PassThroughLipSyncer(),
            detector=FakeFaceDetector(),
        )
    assert not (tmp_path / "out.mp4").exists()


def test_require_face_found() -> None:
    require_face_found(10, 1)
    with pytest.raises(NoFaceError, match=r"clip\.mp4: no face .* of the 10 frames") as info:
        require_face_found(10, 0, source="clip.mp4")
    assert info.value.path == "clip.mp4" and "--allow-no-face" in (info.value.hint or "")


def test_lipsync_engine_raises_the_same_no_face_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from lipdub.lipsync.engine import lipsync
    from lipdub.testing import FakeFaceDetector, PassThroughLipSyncer
    from lipdub.types import AudioClip

    dark = np.zeros((48, 64, 3), np.uint8)
    with pytest.raises(NoFaceError, match=r"no face found in any of the 10 frames checked") as e:
        lipsync(
            dark,
            AudioClip.silence(0.4, 16000),
            tmp_path / "out.mp4",
            syncer=PassThroughLipSyncer(),
            detector=FakeFaceDetector(min_brightness=10),
            require_face=True,
        )
    assert "--allow-no-face" in (e.value.hint or "")
    assert not (tmp_path / "out.mp4").exists()
