"""The active speaker in a dub: faces.json, only the speaking face's mouth changes.

Each test dubs the generated two-face clip (face 0 speaks 0.3-1.3 s, face 1 speaks
1.7-2.7 s) through the real pipeline with lipdub.testing stand-ins for the models: a
detector that finds both faces, a scorer that follows the mouths (standing in for
SyncNet) and a lip-syncer that inverts what it is given, so a changed pixel shows
where the engine pasted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from lipdub import DubbingPipeline
from lipdub.dub.facemap import FaceMap, SpanFace, choose_span_faces, lipsync_track
from lipdub.dub.options import DubOptions
from lipdub.errors import EditConflict, InputError
from lipdub.eval.faces import FaceLinks
from lipdub.faces.track import FaceTrack
from lipdub.testing import FakeTranscriber, FakeTranslator, FakeVoiceSynth, PassThroughLipSyncer
from lipdub.testing.conformance import FaceDetectorConformance, SpeakingScorerConformance
from lipdub.testing.speaker import (
    FixedFacesDetector,
    MouthMotionScorer,
    make_two_face_video,
)
from lipdub.types import FaceBox

TEXTS = ["Hello there, my friend.", "How are you today?"]
# The drawn faces in the 320x160 clip, as (x1, y1, x2, y2), with room for the chin pad.
REGIONS = {0: (42, 30, 118, 141), 1: (202, 30, 278, 141)}
OPTS = DubOptions()
#: Mean absolute difference of a face region the lossy re-encode alone gives (about
#: 1.6-1.9 here); a region the lip-syncer changed differs by about 24.
TOLERANCE = 3.0


class Inverting(PassThroughLipSyncer):
    """Changes every crop it is given."""

    def sync(
        self, faces: npt.NDArray[np.uint8], mels: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.uint8]:
        return np.ascontiguousarray(255 - super().sync(faces, mels))


def _pipeline(**overrides: Any) -> DubbingPipeline:
    parts: dict[str, Any] = {
        "transcriber": FakeTranscriber.from_texts(TEXTS, start_s=0.3, segment_s=1.0, gap_s=0.4),
        "translator": FakeTranslator(),
        "voice": FakeVoiceSynth(seconds_per_word=0.15),
        "detector": FixedFacesDetector(),
        "lipsyncer": Inverting(),
        "speaker_scorer": MouthMotionScorer(),
    }
    parts.update(overrides)
    return DubbingPipeline(**parts)


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return make_two_face_video(tmp_path / "two.mp4")


def _frames(path: Path) -> list[npt.NDArray[np.int16]]:
    from lipdub.media import VideoReader

    with VideoReader(path) as reader:
        return [f.astype(np.int16) for f in reader]


def _changes(output: Path, clip: Path) -> dict[int, npt.NDArray[np.float64]]:
    """Per face, the mean absolute difference of its region in each frame."""
    out, src = _frames(output), _frames(clip)
    assert len(out) == len(src) == 75
    diffs: dict[int, list[float]] = {0: [], 1: []}
    for got, want in zip(out, src, strict=True):
        for fid, (x1, y1, x2, y2) in REGIONS.items():
            diffs[fid].append(float(np.abs(got[y1:y2, x1:x2] - want[y1:y2, x1:x2]).mean()))
    return {fid: np.array(v) for fid, v in diffs.items()}


def _moved(changes: dict[int, npt.NDArray[np.float64]], a_s: float, b_s: float) -> list[int]:
    """The faces whose region changed in every frame of ``[a_s, b_s)`` (25 fps)."""
    frames = slice(round(a_s * 25), round(b_s * 25))
    return [fid for fid, d in changes.items() if bool((d[frames] > 10).all())]


def _still(changes: dict[int, npt.NDArray[np.float64]], fid: int) -> bool:
    """The face's region is the input's in every frame (within the re-encode's loss)."""
    return bool(changes[fid].max() < TOLERANCE)


def _spans(wd: Path) -> list[dict[str, Any]]:
    spans: list[dict[str, Any]] = json.loads((wd / "faces.json").read_text("utf-8"))["spans"]
    return spans


# --------------------------------------------------------------------------- the dub


def test_only_the_speaking_face_is_lip_synced(clip: Path, tmp_path: Path) -> None:
    wd = tmp_path / "wd"
    result = _pipeline().run(clip, "es", workdir=wd, options=OPTS)

    data = json.loads((wd / "faces.json").read_text("utf-8"))
    assert data["mode"] == "active" and [f["id"] for f in data["faces"]] == [0, 1]
    assert data["faces"][1]["box"] == [202.0, 30.0, 278.0, 130.0]
    spans = data["spans"]
    assert [(s["start_s"], s["end_s"], s["face"]) for s in spans] == [
        (0.3, 1.3, 0),
        (1.7, 2.7, 1),
    ]
    assert spans[0]["scores"]["0"] > 0.8 > spans[0]["scores"]["1"]
    assert spans[1]["scores"]["1"] > 0.8 > spans[1]["scores"]["0"]
    assert "faces" in result.ran
    assert result.output is not None
    changes = _changes(result.output, clip)
    assert _moved(changes, 0.3, 0.9) == [0]  # the dubbed line 1 (4 words, about 0.7 s)
    assert _moved(changes, 1.7, 2.3) == [1]
    assert changes[1][: round(1.7 * 25)].max() < TOLERANCE  # face 1 untouched while face 0 speaks
    assert changes[0][round(1.6 * 25) :].max() < TOLERANCE  # and face 0 while face 1 speaks


def test_editing_faces_json_moves_the_other_face(clip: Path, tmp_path: Path) -> None:
    wd = tmp_path / "wd"
    transcriber = FakeTranscriber.from_texts(TEXTS, start_s=0.3, segment_s=1.0, gap_s=0.4)
    pipe = _pipeline(transcriber=transcriber)
    pipe.run(clip, "es", workdir=wd, options=OPTS)
    path = wd / "faces.json"
    data = json.loads(path.read_text("utf-8"))
    data["spans"][0]["face"] = 1  # the right face says line 1 too
    path.write_text(json.dumps(data), encoding="utf-8")
    edited = path.read_bytes()

    again = pipe.run(clip, "es", workdir=wd, options=OPTS)

    assert again.ran == ("lipsync",) and again.yours == ("faces",)
    assert {"transcribe", "speak", "track"} <= set(again.reused)
    assert transcriber.calls == 1
    assert path.read_bytes() == edited
    assert again.output is not None
    changes = _changes(again.output, clip)
    assert _moved(changes, 0.3, 0.9) == [1] and _moved(changes, 1.7, 2.3) == [1]
    assert _still(changes, 0)
    third = pipe.run(clip, "es", workdir=wd, options=OPTS)  # the edit is respected
    assert third.ran == () and path.read_bytes() == edited


def test_a_face_id_syncs_that_face_everywhere(clip: Path, tmp_path: Path) -> None:
    wd = tmp_path / "wd"
    result = _pipeline().run(clip, "es", workdir=wd, options=DubOptions(face="1"))
    assert [s["face"] for s in _spans(wd)] == [1, 1]
    assert json.loads((wd / "faces.json").read_text("utf-8"))["mode"] == "fixed"
    assert result.output is not None
    changes = _changes(result.output, clip)
    assert _still(changes, 0) and _moved(changes, 0.3, 0.9) == [1]


def test_an_unknown_face_id_lists_the_faces_found(clip: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        _pipeline().run(clip, "es", workdir=tmp_path / "wd", options=DubOptions(face="7"))
    message = str(info.value)
    assert "--face 7" in message and "0 (box 42,30-118,130), 1 (box 202,30-278,130)" in message
    assert "\n" not in message


def test_without_a_scorer_active_falls_back_to_the_largest_face(tmp_path: Path) -> None:
    from lipdub.testing.speaker import TWO_FACES

    clip = make_two_face_video(tmp_path / "two.mp4")
    bigger = ((0.1, 0.1, 0.4, 0.9), TWO_FACES[1])  # face 0 is found larger
    pipe = _pipeline(speaker_scorer=None, detector=FixedFacesDetector(bigger))
    wd = tmp_path / "wd"
    result = pipe.run(clip, "es", workdir=wd, options=DubOptions(face="active"))
    notices = [n for n in result.notices if "speaker scorer" in n]
    assert len(notices) == 1 and "\n" not in notices[0]
    assert "largest face" in notices[0] and "syncnet_v2" in notices[0]
    data = json.loads((wd / "faces.json").read_text("utf-8"))
    assert data["mode"] == "largest" and [s["face"] for s in data["spans"]] == [0, 0]


def test_auto_without_a_scorer_is_the_face_track_as_before(clip: Path, tmp_path: Path) -> None:
    plain = _pipeline(speaker_scorer=None).run(clip, "es", workdir=tmp_path / "a", options=OPTS)
    assert "faces" not in plain.ran and not (tmp_path / "a" / "faces.json").exists()
    with_scorer = _pipeline().run(clip, "es", workdir=tmp_path / "b", options=OPTS)
    assert "faces" in with_scorer.ran  # auto + a scorer = active
    assert [s["face"] for s in _spans(tmp_path / "b")] == [0, 1]


def test_one_face_keeps_the_output_of_the_face_track(clip: Path, tmp_path: Path) -> None:
    from lipdub.testing.speaker import TWO_FACES

    one = FixedFacesDetector(TWO_FACES[:1])
    before = _pipeline(detector=one, speaker_scorer=None).run(
        clip, "es", tmp_path / "a.mp4", workdir=tmp_path / "a", options=OPTS
    )
    after = _pipeline(detector=one).run(
        clip, "es", tmp_path / "b.mp4", workdir=tmp_path / "b", options=OPTS
    )
    assert "faces" in after.ran and [s["face"] for s in _spans(tmp_path / "b")] == [0, 0]
    assert json.loads((tmp_path / "b" / "faces.json").read_text("utf-8"))["mode"] == "largest"
    assert before.output is not None and after.output is not None
    frames_a, frames_b = _frames(before.output), _frames(after.output)
    assert all(np.array_equal(a, b) for a, b in zip(frames_a, frames_b, strict=True))


# --------------------------------------------------------------------------- the workdir rule


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        ("{not json", "not readable JSON"),
        ('{"spans": 3}', "'spans' list"),
        ('{"spans": [{"start_s": 0.3, "end_s": 1.3, "face": 7}]}', "names face 7"),
        ('{"spans": [{"start_s": 0.3, "end_s": 1.3, "face": "1"}]}', "face must be a face id"),
        ('{"spans": [{"start_s": 0.3, "end_s": 1.3, "face": true}]}', "face must be a face id"),
        ('{"spans": [{"start_s": -1, "end_s": 1.3, "face": 0}]}', "0 <= start_s < end_s"),
        ('{"spans": [{"start_s": 1.3, "end_s": 0.3, "face": 0}]}', "0 <= start_s < end_s"),
        ('{"spans": [{"start_s": "0.3", "end_s": 1.3, "face": 0}]}', "start_s must be a number"),
        ('{"spans": [{"start_s": 9, "end_s": 10, "face": 0}]}', "after the video ends"),
        ('{"spans": ["a"]}', "span 1 must be an object"),
        (
            '{"spans": [{"start_s": 0.3, "end_s": 1.5, "face": 0},'
            ' {"start_s": 1.0, "end_s": 2.0, "face": 1}]}',
            "span 2 (1.0 s) overlaps",
        ),
        ('{"spans": [{"start_s": 0.3, "end_s": 1.3, "face": 0, "speaker": 5}]}', "speaker must"),
    ],
)
def test_a_hostile_faces_json_is_one_line_naming_the_file(
    clip: Path, tmp_path: Path, edit: str, words: str
) -> None:
    wd = tmp_path / "wd"
    pipe = _pipeline()
    pipe.run(clip, "es", workdir=wd, options=OPTS)
    (wd / "faces.json").write_text(edit, encoding="utf-8")
    with pytest.raises(InputError) as info:
        pipe.run(clip, "es", workdir=wd, options=OPTS)
    assert words in str(info.value) and "faces.json" in str(info.value)
    assert "\n" not in str(info.value)
    assert info.value.path is not None and Path(info.value.path).name == "faces.json"
    assert (wd / "faces.json").read_text("utf-8") == edit  # never overwritten


def test_an_edit_whose_inputs_changed_stops_then_keep_or_redo(clip: Path, tmp_path: Path) -> None:
    wd = tmp_path / "wd"
    pipe = _pipeline()
    pipe.run(clip, "es", workdir=wd, options=OPTS)
    path = wd / "faces.json"
    data = json.loads(path.read_text("utf-8"))
    data["spans"][1]["face"] = 0
    path.write_text(json.dumps(data), encoding="utf-8")
    transcript = wd / "transcript.en.json"
    t = json.loads(transcript.read_text("utf-8"))
    t["segments"][0]["text"] = "Hello there, dear friend."
    transcript.write_text(json.dumps(t), encoding="utf-8")

    with pytest.raises(EditConflict) as info:
        pipe.run(clip, "es", workdir=wd, options=OPTS)
    assert "faces.json" in str(info.value) and "--keep faces" in (info.value.hint or "")

    kept = pipe.run(clip, "es", workdir=wd, options=OPTS, keep=["faces"])
    assert kept.yours == ("transcribe", "faces") and [s["face"] for s in _spans(wd)] == [0, 0]
    redone = pipe.run(clip, "es", workdir=wd, options=OPTS, redo=["faces"])
    assert "faces" in redone.ran and [s["face"] for s in _spans(wd)] == [0, 1]
    assert len(list(wd.glob("faces.*.bak"))) == 1


def test_a_new_face_option_redoes_the_choice_and_the_lipsync(clip: Path, tmp_path: Path) -> None:
    wd = tmp_path / "wd"
    pipe = _pipeline()
    pipe.run(clip, "es", workdir=wd, options=OPTS)
    again = pipe.run(clip, "es", workdir=wd, options=DubOptions(face="0"))
    assert again.ran == ("faces", "lipsync") and [s["face"] for s in _spans(wd)] == [0, 0]
    links = list(wd.glob("facelinks.*.json"))
    assert len(links) == 1  # the faces were found once


def test_an_edited_faces_json_serves_every_language(clip: Path, tmp_path: Path) -> None:
    wd = tmp_path / "wd"
    pipe = _pipeline()
    pipe.run(clip, "es", workdir=wd, options=OPTS)
    path = wd / "faces.json"
    data = json.loads(path.read_text("utf-8"))
    data["spans"][1]["face"] = 0
    path.write_text(json.dumps(data), encoding="utf-8")

    fr = pipe.run(clip, "fr", workdir=wd, options=OPTS)

    assert fr.yours == ("faces",) and "lipsync" in fr.ran
    assert fr.output is not None
    changes = _changes(fr.output, clip)
    assert _moved(changes, 1.7, 2.3) == [0] and _still(changes, 1)


def test_no_resume_moves_the_edited_faces_json_aside(clip: Path, tmp_path: Path) -> None:
    wd = tmp_path / "wd"
    pipe = _pipeline()
    pipe.run(clip, "es", workdir=wd, options=OPTS)
    path = wd / "faces.json"
    data = json.loads(path.read_text("utf-8"))
    data["spans"][0]["face"] = None
    path.write_text(json.dumps(data), encoding="utf-8")

    again = pipe.run(clip, "es", workdir=wd, options=OPTS, resume=False)

    assert "faces" in again.ran and [s["face"] for s in _spans(wd)] == [0, 1]
    (backup,) = wd.glob("faces.*.bak")
    assert json.loads(backup.read_text("utf-8"))["spans"][0]["face"] is None
    assert any("faces.json aside" in n for n in again.notices)


def test_a_placed_faces_json_is_used_even_without_a_scorer(clip: Path, tmp_path: Path) -> None:
    wd = tmp_path / "wd"
    wd.mkdir()
    placed = '{"spans": [{"start_s": 0.0, "end_s": 3.0, "face": 1}]}'
    (wd / "faces.json").write_text(placed, encoding="utf-8")

    result = _pipeline(speaker_scorer=None).run(clip, "es", workdir=wd, options=OPTS)

    assert result.yours == ("faces",)
    assert any("using your faces.json" in n for n in result.notices)
    assert result.output is not None
    changes = _changes(result.output, clip)
    assert _moved(changes, 0.3, 0.9) == [1] and _still(changes, 0)
    assert (wd / "faces.json").read_text("utf-8") == placed


def test_the_vocals_stem_is_what_mouths_are_scored_against(tmp_path: Path) -> None:
    from lipdub.dub.stages.faces import _audio_key, _scoring_audio
    from lipdub.dub.state import Extracted, Separated, Transcribed
    from lipdub.types import AudioClip, Transcript

    mix, vocals = AudioClip.silence(3.0, 16000), AudioClip(np.full(48000, 0.1, np.float32), 16000)
    heard = Extracted(original=mix, audio_key="mix-key")
    assert _scoring_audio(heard) is mix and _audio_key(heard) == "mix-key"
    said = Transcribed(mix, "mix-key", Transcript("en", ()), tmp_path / "t.json")
    # the separator's stem, when a run has one
    stems = Separated(*vars(said).values(), background=None, background_key=None,
                      vocals=vocals, vocals_key="v")  # fmt: skip
    assert _scoring_audio(stems) is vocals
    assert str(_audio_key(stems)).startswith("vocals:")


# --------------------------------------------------------------------------- speakers


def _links(n: int = 100) -> FaceLinks:
    a, b = FaceBox(0, 0, 10, 10), FaceBox(50, 0, 60, 10)
    return FaceLinks({0: (a,) * n, 1: (b,) * n}, fps=25.0)


def test_a_speaker_keeps_the_face_that_won_most_of_their_spans() -> None:
    spans = [(0.0, 0.8, "S1"), (0.8, 1.6, "S2"), (1.6, 2.4, "S1"), (2.4, 3.2, "S1")]
    scores: list[dict[int, float | None]] = [
        {0: 0.9, 1: 0.1},
        {0: 0.2, 1: 0.7},
        {0: 0.3, 1: 0.4},  # one S1 span where face 1 scores higher
        {0: 0.8, 1: 0.2},
    ]
    chosen, speakers = choose_span_faces(_links(), spans, mode="active", scores=scores)
    assert speakers == {"S1": 0, "S2": 1}
    assert [c.face for c in chosen] == [0, 1, 0, 0]
    assert chosen[2].scores == {0: 0.3, 1: 0.4}


def test_spans_nobody_could_score_take_the_largest_face() -> None:
    links = FaceLinks({0: (FaceBox(0, 0, 10, 10),) * 50, 1: (FaceBox(50, 0, 80, 30),) * 50}, 25.0)
    chosen, _ = choose_span_faces(
        links, [(0.0, 0.1, None)], mode="active", scores=[{0: None, 1: None}]
    )
    assert chosen[0].face == 1


def test_diarized_speakers_map_to_faces_in_faces_json(clip: Path, tmp_path: Path) -> None:
    from lipdub.diarize.base import Diarizer, SpeakerTurn

    class TwoTurns(Diarizer):  # stands in for a diarization model
        name = "two_turns"

        def settings(self) -> dict[str, Any]:
            return {}

        def diarize(self, audio: Any, *, on_event: Any = None) -> list[SpeakerTurn]:
            return [SpeakerTurn(0.2, 1.4, "S1"), SpeakerTurn(1.6, 2.8, "S2")]

    wd = tmp_path / "wd"
    _pipeline(diarizer=TwoTurns()).run(clip, "es", workdir=wd, options=OPTS)
    data = json.loads((wd / "faces.json").read_text("utf-8"))
    assert data["speakers"] == {"S1": 0, "S2": 1}
    assert [(s["speaker"], s["face"]) for s in data["spans"]] == [("S1", 0), ("S2", 1)]


# --------------------------------------------------------------------------- the track


def test_each_frame_follows_the_last_span_started() -> None:
    links = _links(75)
    track = FaceTrack((links.faces[0][0],) * 75, fps=25.0)
    spans = (SpanFace(0.3, 1.3, 1), SpanFace(1.7, 2.7, 0))
    got = lipsync_track(track, links, spans, 75)
    assert got is not None and got is not track
    assert got.boxes[0] == links.faces[1][0]  # before the first span: the first span's face
    assert got.boxes[40] == links.faces[1][0]  # the gap after span 1 (speech running on)
    assert got.boxes[50] == track.boxes[50]  # the tracked face keeps the track's own box
    same = lipsync_track(track, links, (SpanFace(0.3, 1.3, 0),), 75)
    assert same is track
    assert lipsync_track(track, links, (SpanFace(0.3, 1.3, None),), 75) is track


def test_faces_json_round_trips_with_scores_and_speakers(tmp_path: Path) -> None:
    m = FaceMap(
        "active",
        [{"id": 0}],
        {"S1": 0},
        (SpanFace(0.3, 1.3, 0, "S1", {0: 0.5, 1: float("-inf")}),),
    )
    path = m.save(tmp_path / "faces.json")
    text = path.read_text("utf-8")
    assert '{"start_s": 0.3, "end_s": 1.3, "face": 0, "speaker": "S1"' in text  # a line a span
    back = FaceMap.load(path)
    assert back.spans[0].face == 0 and back.spans[0].speaker == "S1"
    assert json.loads(text)["spans"][0]["scores"] == {"0": 0.5, "1": None}


# --------------------------------------------------------------------------- contracts


class TestMouthMotionScorer(SpeakingScorerConformance):
    def make_scorer(self) -> MouthMotionScorer:
        return MouthMotionScorer()

    def make_changed_backend(self) -> None:
        return None


class TestSyncNetScorerAsSpeakingScorer(SpeakingScorerConformance):
    def make_scorer(self) -> Any:
        import torch

        from lipdub.eval.scorer import SyncNetScorer
        from lipdub.models.syncnet_v2 import SyncNetV2

        torch.manual_seed(0)
        return SyncNetScorer(net=SyncNetV2(), device="cpu", vshift=self.vshift)

    vshift = 15

    def make_changed_backend(self) -> Any:
        self.vshift = 3
        try:
            return self.make_scorer()
        finally:
            self.vshift = 15


class TestFixedFacesDetector(FaceDetectorConformance):
    def make_detector(self) -> FixedFacesDetector:
        return FixedFacesDetector(min_brightness=10)

    def make_changed_backend(self) -> FixedFacesDetector:
        return FixedFacesDetector([(0.2, 0.2, 0.8, 0.8)], min_brightness=10)
