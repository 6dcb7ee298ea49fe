"""The offline face detectors (RetinaFace, Haar) on a real photo, and the downscale helpers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lipdub.errors import InputError
from lipdub.faces._scale import fit_within, unscale_box
from lipdub.faces.base import FaceDetector
from lipdub.testing.conformance import FaceDetectorConformance
from lipdub.types import FaceBox

# Where the astronaut's face is in skimage.data.astronaut() (512x512), by hand.
ASTRONAUT_FACE = FaceBox(175, 55, 275, 180)
CANVAS_OFFSET = (600, 200)  # (x, y) of the photo inside the 1280x720 black canvas


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    data = pytest.importorskip("skimage.data", reason="scikit-image provides the test photo")
    return np.ascontiguousarray(data.astronaut()[..., ::-1])  # RGB -> BGR


@pytest.fixture(scope="module")
def canvas(astronaut: np.ndarray) -> np.ndarray:
    frame = np.zeros((720, 1280, 3), np.uint8)
    x, y = CANVAS_OFFSET
    frame[y : y + 512, x : x + 512] = astronaut
    return frame


@pytest.fixture(scope="module")
def fitted(astronaut: np.ndarray) -> np.ndarray:
    """The photo scaled to 720x720 and centred in a 1280x720 black frame (letterboxed)."""
    import cv2

    frame = np.zeros((720, 1280, 3), np.uint8)
    frame[:, 280:1000] = cv2.resize(astronaut, (720, 720), interpolation=cv2.INTER_LINEAR)
    return frame


def _shifted(box: FaceBox, dx: float, dy: float) -> FaceBox:
    return FaceBox(box.x1 + dx, box.y1 + dy, box.x2 + dx, box.y2 + dy)


@pytest.fixture(scope="module")
def retinaface() -> FaceDetector:
    pytest.importorskip("onnxruntime", reason="RetinaFace runs on onnxruntime")
    from lipdub.faces.retinaface import RetinaFaceDetector

    return RetinaFaceDetector()


@pytest.fixture(scope="module")
def haar() -> FaceDetector:
    from lipdub.faces.haar import HaarFaceDetector

    return HaarFaceDetector()


@pytest.mark.parametrize("name", ["retinaface", "haar"])
def test_finds_the_astronaut(
    name: str,
    request: pytest.FixtureRequest,
    astronaut: np.ndarray,
    canvas: np.ndarray,
    fitted: np.ndarray,
) -> None:
    det: FaceDetector = request.getfixturevalue(name)
    photo, padded, scaled = det.detect([astronaut, canvas, fitted])
    assert len(photo) == 1 and len(padded) == 1 and len(scaled) == 1
    assert photo[0].iou(ASTRONAUT_FACE) > 0.6
    assert padded[0].iou(_shifted(ASTRONAUT_FACE, *CANVAS_OFFSET)) > 0.6
    assert scaled[0].iou(_shifted(ASTRONAUT_FACE.scaled(720 / 512), 280, 0)) > 0.6
    assert 0.0 < padded[0].score <= 1.0


def test_retinaface_landmarks_in_documented_order(
    retinaface: FaceDetector, canvas: np.ndarray
) -> None:
    (face,) = retinaface.detect([canvas])[0]
    assert face.landmarks is not None and len(face.landmarks) == 5
    left_eye, right_eye, nose, mouth_left, mouth_right = face.landmarks
    assert left_eye[0] < right_eye[0] and mouth_left[0] < mouth_right[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])
    for x, y in face.landmarks:
        assert face.x1 <= x <= face.x2 and face.y1 <= y <= face.y2


@pytest.mark.parametrize("name", ["retinaface", "haar"])
def test_no_face_in_blank_frames(name: str, request: pytest.FixtureRequest) -> None:
    det: FaceDetector = request.getfixturevalue(name)
    assert det.detect([np.zeros((360, 640, 3), np.uint8), np.full((64, 64, 3), 128, np.uint8)]) == [
        [],
        [],
    ]
    assert det.detect([]) == []


def test_retinaface_full_resolution_agrees_with_downscaled(canvas: np.ndarray) -> None:
    from lipdub.faces.retinaface import RetinaFaceDetector

    full = RetinaFaceDetector(max_side=None).detect([canvas])[0][0]
    small = RetinaFaceDetector(max_side=640).detect([canvas])[0][0]
    assert full.iou(small) > 0.8


def test_detectors_reject_bad_input(retinaface: FaceDetector) -> None:
    with pytest.raises(InputError, match=r"\(H, W, 3\) uint8"):
        retinaface.detect([np.zeros((10, 10, 3), np.float32)])
    from lipdub.faces.haar import HaarFaceDetector

    with pytest.raises(InputError, match="cascade"):
        HaarFaceDetector(cascade_path="/nonexistent/cascade.xml")


class TestHaarConformance(FaceDetectorConformance):
    @pytest.fixture(autouse=True)
    def _photo(self, astronaut: np.ndarray, tmp_path: Path) -> None:
        self.photo = astronaut
        self.tmp_path = tmp_path

    def face_frame(self) -> np.ndarray:
        return self.photo.copy()

    def make_detector(self) -> FaceDetector:
        from lipdub.faces.haar import HaarFaceDetector

        return HaarFaceDetector()

    def make_changed_backend(self) -> FaceDetector:
        from lipdub.faces.haar import HaarFaceDetector

        return HaarFaceDetector(min_neighbors=8)

    def make_same_output_backend(self) -> FaceDetector:
        import shutil

        from lipdub.faces.haar import HaarFaceDetector

        # the same cascade file, moved
        cascade = HaarFaceDetector().cascade_path
        moved = shutil.copy(cascade, self.tmp_path / cascade.name)
        return HaarFaceDetector(cascade_path=moved)


def test_retinaface_settings_name_its_embedded_weights(retinaface: FaceDetector) -> None:
    settings = retinaface.settings()
    assert len(settings["weights_sha256"]) == 64
    assert settings == {
        "weights_sha256": settings["weights_sha256"],
        "score_threshold": 0.8,
        "nms_threshold": 0.4,
        "max_side": 640,
    }


# ---------------------------------------------------------------- downscaling


def test_fit_within_keeps_small_frames() -> None:
    frame = np.zeros((360, 640, 3), np.uint8)
    small, sx, sy = fit_within(frame, 640)
    assert small is frame and (sx, sy) == (1.0, 1.0)
    assert fit_within(frame, None)[0] is frame


def test_fit_within_and_unscale_are_exact() -> None:
    frame = np.zeros((720, 1280, 3), np.uint8)
    frame[200:400, 300:500] = 255  # a white square, edges on even pixels
    small, sx, sy = fit_within(frame, 640)
    assert small.shape == (360, 640, 3) and (sx, sy) == (0.5, 0.5)
    ys, xs = np.nonzero(small[..., 0] > 128)
    box = FaceBox(xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)  # pixel edges
    assert unscale_box(box, sx, sy).as_tuple() == (300.0, 200.0, 500.0, 400.0)
    # odd sizes: per-axis factors from the rounded output size
    odd, sx, sy = fit_within(np.zeros((333, 1001, 3), np.uint8), 500)
    assert odd.shape[:2] == (166, 500)
    assert sx == 500 / 1001 and sy == 166 / 333
    b = FaceBox(10, 20, 30, 40, landmarks=((15, 25),))
    back = unscale_box(b, sx, sy)
    assert back.x2 == pytest.approx(30 * 1001 / 500) and back.y1 == pytest.approx(20 * 333 / 166)
    assert back.landmarks == (pytest.approx((15 * 1001 / 500, 25 * 333 / 166)),)


def test_retinaface_name_clash_gives_install_hint(tmp_path: Path) -> None:
    """Another package owning the ``retinaface`` import name is reported, not crashed on."""
    impostor = tmp_path / "retinaface"
    impostor.mkdir()
    (impostor / "__init__.py").write_text("def RetinaFace():\n    pass\n")
    code = (
        "from lipdub.errors import BackendNotInstalled\n"
        "from lipdub.faces.retinaface import RetinaFaceDetector\n"
        "try:\n"
        "    RetinaFaceDetector()\n"
        "except BackendNotInstalled as e:\n"
        "    print('HINT', e.hint)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "HINT" in out.stdout and 'pip install "lipdub[local]"' in out.stdout
    assert "uninstall" in out.stdout


def test_tracker_with_retinaface_follows_the_astronaut(
    retinaface: FaceDetector, astronaut: np.ndarray
) -> None:
    from lipdub.faces.track import FaceTracker

    def frame(i: int) -> np.ndarray:
        f = np.zeros((720, 1280, 3), np.uint8)
        f[100:612, 300 + 4 * i : 812 + 4 * i] = astronaut
        return f

    track = FaceTracker(retinaface, detect_every=5).track(frame(i) for i in range(12))
    assert track.num_faces == 12
    for i, box in enumerate(track.boxes):
        assert box is not None and box.iou(_shifted(ASTRONAUT_FACE, 300 + 4 * i, 100)) > 0.6
        assert box.landmarks is not None and len(box.landmarks) == 5
