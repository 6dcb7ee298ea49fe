"""Burning subtitles into frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lipdub.types import Segment, Transcript

pytest.importorskip("PIL")


def _burner(**kwargs: object):  # type: ignore[no-untyped-def]
    from lipdub.dub.subtitles import SubtitleBurner
    from lipdub.errors import BackendNotInstalled

    cues = Transcript("es", (Segment(0.4, 1.0, "¿Qué tal?\nÑandú"), Segment(2.0, 2.5, "Adiós")))
    try:
        return SubtitleBurner(cues, fps=25, **kwargs)  # type: ignore[arg-type]
    except BackendNotInstalled as e:  # no TrueType font on this machine
        pytest.skip(str(e))


def test_cues_are_drawn_only_in_their_time_and_near_the_bottom() -> None:
    burn = _burner()
    frame = np.full((180, 320, 3), 90, np.uint8)
    assert burn(5, frame) is frame  # 0.2 s: no cue
    shown = burn(12, frame)  # 0.48 s: first cue
    assert shown is not frame and np.array_equal(frame, np.full_like(frame, 90))  # not in place
    changed = np.flatnonzero(np.any(shown != frame, axis=(1, 2)))
    assert changed.size and changed.min() > 180 // 2  # bottom half only
    assert shown.max() == 255 and shown.min() < 40  # white text, dark outline
    assert burn(25, frame) is frame  # 1.0 s: cue ended
    assert burn.cue_at(2.2) == 1 and burn.cue_at(1.5) is None


def test_missing_font_file_is_a_clear_error() -> None:
    from lipdub.errors import InputError

    with pytest.raises(InputError, match="font file not found"):
        _burner(font_path="/nonexistent/font.ttf")


def test_the_dub_can_burn_its_subtitles(make_video, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from lipdub import DubbingPipeline
    from lipdub.dub import DubOptions
    from lipdub.media import iter_frames
    from lipdub.testing import FakeFaceDetector, FakeTranscriber

    _burner()  # skips without a font
    clip = make_video("talk.mp4", duration_s=2.0, size=(320, 180))
    pipe = DubbingPipeline(
        transcriber=FakeTranscriber.from_texts(["Hello there."], start_s=0.2, segment_s=1.4),
        translator="fake",
        voice="fake",
        detector=FakeFaceDetector(),
        lipsyncer="passthrough",
    )
    plain = pipe.run(clip, "es", tmp_path / "plain.mp4").output
    burned = pipe.run(
        clip, "es", tmp_path / "burned.mp4", options=DubOptions(burn_subtitles=True)
    ).output
    assert plain is not None and burned is not None
    a, b = list(iter_frames(plain)), list(iter_frames(burned))
    assert len(a) == len(b)
    diff = [float(np.abs(x.astype(int) - y.astype(int)).max()) for x, y in zip(a, b, strict=True)]
    assert max(diff[10:30]) > 100  # text drawn while the dub speaks
    assert max(diff[:3]) < 40  # before the speech: only encoding noise
