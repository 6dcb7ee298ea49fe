"""lipdub.lipsync.blend: crops like the original, soft lower-face paste, untouched surroundings."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from lipdub.errors import InputError
from lipdub.lipsync.blend import blend_mask, crop_face, paste_face, paste_faces
from lipdub.types import FaceBox


def _frame(seed: int = 0, shape: tuple[int, int] = (120, 160)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (*shape, 3), dtype=np.uint8)


def test_crop_is_bilinear_resize_of_the_box() -> None:
    frame = _frame()
    crop = crop_face(frame, FaceBox(40, 20, 120, 110))
    want = cv2.resize(frame[20:110, 40:120], (96, 96))
    np.testing.assert_array_equal(crop, want)
    assert crop.flags.c_contiguous
    # tuples work too; fractional boxes are rounded outwards; boxes are clipped
    np.testing.assert_array_equal(crop_face(frame, (40, 20, 120, 110)), want)
    np.testing.assert_array_equal(crop_face(frame, FaceBox(40.5, 20.2, 119.5, 109.1)), want)
    np.testing.assert_array_equal(
        crop_face(frame, FaceBox(-10, -5, 60, 50), size=48),
        cv2.resize(frame[0:50, 0:60], (48, 48)),
    )


def test_crop_rejects_box_outside() -> None:
    with pytest.raises(InputError):
        crop_face(_frame(), (200, 200, 300, 300))
    with pytest.raises(InputError):
        crop_face(np.zeros((10, 10), np.uint8), (0, 0, 5, 5))


@pytest.mark.parametrize("mouth_only", [True, False])
@pytest.mark.parametrize("color_match", [False, True])
def test_outside_box_untouched(mouth_only: bool, color_match: bool) -> None:
    frame = _frame(1)
    before = frame.copy()
    gen = _frame(2, (96, 96))
    x1, y1, x2, y2 = 30, 15, 110, 105
    out = paste_face(
        frame, FaceBox(x1, y1, x2, y2), gen, mouth_only=mouth_only, color_match=color_match
    )
    np.testing.assert_array_equal(frame, before)  # input not modified
    inside = np.zeros(frame.shape[:2], bool)
    inside[y1:y2, x1:x2] = True
    np.testing.assert_array_equal(out[~inside], before[~inside])
    assert not np.array_equal(out[inside], before[inside])


def test_mouth_only_leaves_upper_face() -> None:
    frame = _frame(3)
    out = paste_face(frame, (20, 10, 120, 110), np.zeros((96, 96, 3), np.uint8), feather=0.1)
    mask = blend_mask(100, 100, feather=0.1)
    # rows of the box where the mask is 0 keep their exact bytes
    zero_rows = np.flatnonzero(mask.max(axis=1) == 0)
    assert zero_rows.size >= 40
    np.testing.assert_array_equal(out[10 + zero_rows, 20:120], frame[10 + zero_rows, 20:120])
    # the centre of the lower face is fully replaced (generated is black there)
    assert out[10 + 75, 20 + 50].max() == 0


def test_mask_shape_and_feather() -> None:
    m = blend_mask(96, 80, feather=0.1)
    assert m.shape == (96, 80) and m.dtype == np.float32
    assert float(m.min()) == 0.0 and float(m.max()) == 1.0
    assert np.all(m[:38] == 0)  # upper face (above the soft band around row 48)
    assert np.all(m[60:86, 10:70] == 1)
    # soft edges: the border rows/columns are nearly transparent, and values rise smoothly
    assert m[-1].max() < 0.1 and m[:, 0].max() < 0.1 and m[:, -1].max() < 0.1
    assert np.all(np.diff(m[38:60, 40]) >= 0)
    hard = blend_mask(96, 80, feather=0.0, mouth_only=False)
    assert np.all(hard == 1)
    hard_mouth = blend_mask(96, 80, feather=0.0)
    assert np.all(hard_mouth[:48] == 0) and np.all(hard_mouth[48:] == 1)
    with pytest.raises(InputError):
        blend_mask(10, 10, feather=0.9)


def test_hard_full_paste_equals_original_behaviour() -> None:
    frame = _frame(4)
    gen = _frame(5, (96, 96))
    out = paste_face(frame, (30, 15, 110, 105), gen, feather=0.0, mouth_only=False)
    want = frame.copy()
    want[15:105, 30:110] = cv2.resize(gen, (80, 90))
    np.testing.assert_array_equal(out, want)


def test_color_match_moves_colours_towards_original() -> None:
    frame = np.full((120, 160, 3), (60, 90, 160), np.uint8)  # a skin-ish BGR tone
    gen = np.full((96, 96, 3), (90, 140, 200), np.uint8)  # brighter, shifted
    gen[60:70, 30:66] = (40, 40, 120)  # a "mouth"
    box = (30, 15, 110, 105)
    plain = paste_face(frame, box, gen, feather=0.0)
    matched = paste_face(frame, box, gen, feather=0.0, color_match=True)
    region = (slice(15 + 70, 15 + 90), slice(30, 110))  # lower face below the mouth
    err_plain = np.abs(plain[region].astype(int) - frame[region].astype(int)).mean()
    err_matched = np.abs(matched[region].astype(int) - frame[region].astype(int)).mean()
    assert err_matched < err_plain / 2


def test_inplace_and_batch() -> None:
    frames = [_frame(6), _frame(7)]
    gens = [_frame(8, (96, 96)), None]
    boxes = [(10, 10, 90, 100), (10, 10, 90, 100)]
    out = paste_faces(frames, boxes, gens)
    assert out[1] is frames[1]
    np.testing.assert_array_equal(out[0], paste_face(frames[0], boxes[0], gens[0]))  # type: ignore[arg-type]
    f = frames[0].copy()
    same = paste_face(f, boxes[0], gens[0], inplace=True)  # type: ignore[arg-type]
    assert same is f
    np.testing.assert_array_equal(same, out[0])
    with pytest.raises(InputError):
        paste_faces(frames, boxes[:1], gens)


def test_box_at_frame_edge() -> None:
    frame = _frame(9)
    out = paste_face(frame, FaceBox(100, 60, 200, 160), _frame(10, (96, 96)))
    np.testing.assert_array_equal(out[:60], frame[:60])
    np.testing.assert_array_equal(out[:, :100], frame[:, :100])
    assert out.shape == frame.shape


def test_landmarks_move_the_top_of_the_blended_region() -> None:
    from lipdub.lipsync.blend import MOUTH_TOP, mouth_top_from_landmarks, paste_face
    from lipdub.types import FaceBox

    frame = np.full((200, 200, 3), 50, np.uint8)
    generated = np.full((96, 96, 3), 250, np.uint8)
    plain = FaceBox(50, 40, 150, 140)
    assert mouth_top_from_landmarks(plain) == MOUTH_TOP
    # nose tip at 60 % of the box height: nothing above it may change
    marks = ((80, 70), (120, 70), (100, 100), (85, 115), (115, 115))
    with_marks = FaceBox(50, 40, 150, 140, landmarks=marks)
    top = mouth_top_from_landmarks(with_marks)
    assert top == 0.6
    out = paste_face(frame, with_marks, generated, mouth_top=top, feather=0.0)
    changed_rows = np.flatnonzero(np.any(out != frame, axis=(1, 2)))
    assert changed_rows.min() == 40 + 60 and changed_rows.max() == 139
    # a nose above the middle never pastes above the half the model redraws
    high = FaceBox(
        50, 40, 150, 140, landmarks=((80, 50), (120, 50), (100, 60), (85, 90), (115, 90))
    )
    assert mouth_top_from_landmarks(high) == MOUTH_TOP
