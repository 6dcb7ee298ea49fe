"""The SDK's public entry points refuse arguments of the wrong type with an InputError.

Each case calls a public function (``DubbingPipeline.run`` and its stage methods,
``dub_many``, ``evaluate_video``, ``lipsync``) with one bad argument and asserts the
error's type, that its one-line message names the argument, and that nothing on disk
changed (the work directory of an earlier run keeps every byte).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lipdub import DubbingPipeline, FaceBox, InputError
from lipdub.testing import FakeFaceDetector, FakeTranscriber, PassThroughLipSyncer
from lipdub.types import AudioClip, Segment, Transcript

TEXTS = ["Hello there.", "How are you?"]


def _pipeline() -> DubbingPipeline:
    return DubbingPipeline(
        transcriber=FakeTranscriber.from_texts(TEXTS, start_s=0.2, segment_s=0.6, gap_s=0.2),
        translator="fake",
        voice="fake",
        detector=FakeFaceDetector(),
        lipsyncer="passthrough",
    )


def _snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative name -> bytes)."""
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


@pytest.fixture(scope="module")
def dubbed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A clip dubbed once up to ``translate``: (the clip, its work directory)."""
    from lipdub.testing.media import make_test_video

    root = tmp_path_factory.mktemp("entry")
    clip = make_test_video(root / "talk.mp4", duration_s=1.6, size=(96, 72))
    result = _pipeline().run(clip, "es", stop_after="translate")
    return clip, result.workdir


def _assert_one_line(err: pytest.ExceptionInfo[BaseException], *words: str) -> None:
    text = str(err.value)
    assert "\n" not in text
    for word in words:
        assert word in text, text


RUN_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("input None", {"input": None}, "input must be a file path"),
    ("input int", {"input": 5}, "input must be a file path"),
    ("input empty", {"input": ""}, "input must be a file path"),
    ("target int", {"target_language": 5}, "target_language must be a language code"),
    ("target empty list", {"target_language": []}, "target_language must be a language code"),
    ("target list of ints", {"target_language": ["es", 3]}, "target_language"),
    ("output int", {"output": 7}, "output must be a file path"),
    ("source_language int", {"source_language": 1}, "source_language must be"),
    ("voice int", {"voice": 2}, "voice must be"),
    ("workdir int", {"workdir": 3}, "workdir must be a file path"),
    ("resume string", {"resume": "no"}, "resume must be True or False"),
    ("stop_after unknown", {"stop_after": "translation"}, "stop_after must be one of"),
    ("text bytes", {"text": b"hola"}, "text must be a string"),
    ("transcript int", {"transcript": 4}, "transcript must be a file path"),
    ("translation list", {"translation": ["a"]}, "translation must be a file path"),
    ("redo bare string", {"redo": "translate"}, "redo must be a list of names"),
    ("keep ints", {"keep": [1]}, "every item of keep must be a string"),
    ("options dict", {"options": {"crf": 18}}, "options must be a DubOptions"),
    ("on_event int", {"on_event": 42}, "on_event must be a function"),
    ("cancel bool", {"cancel": True}, "cancel must be None or an object with is_set()"),
    ("cancel function", {"cancel": lambda: True}, "cancel must be None"),
]


@pytest.mark.parametrize(("label", "bad", "words"), RUN_CASES, ids=[c[0] for c in RUN_CASES])
def test_run_refuses_each_bad_argument_by_name_and_changes_nothing(
    dubbed: tuple[Path, Path], label: str, bad: dict[str, Any], words: str
) -> None:
    clip, workdir = dubbed
    before = _snapshot(clip.parent)
    args: dict[str, Any] = {"input": clip, "target_language": "es", "stop_after": "translate"}
    args.update(bad)
    with pytest.raises(InputError) as err:
        _pipeline().run(**args)
    _assert_one_line(err, words)
    assert _snapshot(clip.parent) == before  # the work directory and the clip untouched
    assert (workdir / "manifest.json").is_file()


def test_run_positional_mistakes_from_the_issue(dubbed: tuple[Path, Path]) -> None:
    clip, _ = dubbed
    before = _snapshot(clip.parent)
    pipe = _pipeline()
    with pytest.raises(InputError, match=r"^input must be a file path .*; got None$"):
        pipe.run(None, "es")  # type: ignore[call-overload]
    with pytest.raises(InputError, match=r"^target_language must be .*; got int 5"):
        pipe.run(clip, 5)  # type: ignore[call-overload]
    assert _snapshot(clip.parent) == before


def test_a_good_run_after_the_refusals_reuses_everything(dubbed: tuple[Path, Path]) -> None:
    """The work directory stayed consistent: the same run reuses all it did."""
    clip, _ = dubbed
    stop = threading.Event()
    result = _pipeline().run(
        clip, "es", stop_after="translate", on_event=lambda e: None, cancel=stop
    )
    assert tuple(result.ran) == ()


# --------------------------------------------------------------------------- stage methods


def _clip() -> AudioClip:
    return AudioClip.silence(0.5, 16000)


def _text() -> Transcript:
    return Transcript("en", (Segment(0.0, 0.4, "Hi."),))


STAGE_CASES: list[tuple[str, str, tuple[Any, ...], dict[str, Any], str]] = [
    ("transcribe path", "transcribe", ("talk.wav",), {}, "audio must be an AudioClip"),
    ("transcribe language", "transcribe", (_clip(),), {"language": 5}, "language must be"),
    ("transcribe on_event", "transcribe", (_clip(),), {"on_event": 42}, "on_event must be"),
    ("translate dict", "translate", ({"language": "en"}, "es"), {}, "transcript must be"),
    ("translate lang", "translate", (_text(), None), {}, "target_language must be"),
    ("synthesize str", "synthesize", ("Hola",), {}, "translation must be a Transcript"),
    ("synthesize total", "synthesize", (_text(),), {"total_s": float("nan")}, "total_s must be"),
    ("synthesize refs", "synthesize", (_text(),), {"references": {"S1": 1}}, "references['S1']"),
    ("mix speech", "mix", (None, None, _text()), {}, "speech must be an AudioClip"),
    ("mix source", "mix", (_clip(), None, "t.json"), {}, "source must be a Transcript"),
    ("lipsync input", "lipsync", (None, _clip(), "o.mp4"), {}, "input must be a file path"),
    ("lipsync output", "lipsync", ("v.mp4", _clip(), None), {}, "output must be a file path"),
    (
        "lipsync spans",
        "lipsync",
        ("v.mp4", _clip(), "o.mp4"),
        {"speech_spans": [(1.0, 0.5)]},
        "speech_spans[0] ends before it starts",
    ),
    ("lipsync options", "lipsync", ("v.mp4", _clip(), "o.mp4"), {"options": 1}, "options must"),
    ("track_faces input", "track_faces", (3,), {}, "input must be a file path"),
    ("track_faces cache", "track_faces", ("v.mp4",), {"cache_dir": 1}, "cache_dir must be"),
]


@pytest.mark.parametrize(
    ("label", "method", "args", "kwargs", "words"), STAGE_CASES, ids=[c[0] for c in STAGE_CASES]
)
def test_stage_methods_refuse_bad_arguments_by_name(
    label: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any], words: str
) -> None:
    with pytest.raises(InputError) as err:
        getattr(_pipeline(), method)(*args, **kwargs)
    _assert_one_line(err, words)


# --------------------------------------------------------------------------- lipsync()


LIPSYNC_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("face None", {"face": None}, "face must be"),
    ("face int", {"face": 5}, "face must be"),
    ("audio int", {"audio": 5}, "audio must be an AudioClip or a file path"),
    ("output None", {"output": None}, "output must be a file path"),
    ("syncer int", {"syncer": 3}, "syncer must be a LipSyncer or a registry name"),
    ("options dict", {"options": {"crf": 1}}, "options must be a LipSyncOptions"),
    ("on_event int", {"on_event": 42}, "on_event must be a function"),
]


@pytest.mark.parametrize(
    ("label", "bad", "words"), LIPSYNC_CASES, ids=[c[0] for c in LIPSYNC_CASES]
)
def test_lipsync_refuses_bad_arguments_by_name(
    tmp_path: Path, label: str, bad: dict[str, Any], words: str
) -> None:
    from lipdub.lipsync import lipsync

    args: dict[str, Any] = {
        "face": np.zeros((48, 64, 3), np.uint8),
        "audio": _clip(),
        "output": tmp_path / "o.mp4",
        "syncer": PassThroughLipSyncer(),
        "box": (8, 8, 40, 40),
    }
    args.update(bad)
    with pytest.raises(InputError) as err:
        lipsync(**args)
    _assert_one_line(err, words)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- evaluate_video


class _NeverScorer:
    """A scorer that must not be reached: the arguments are refused first."""

    def score(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover
        raise AssertionError("scored despite a bad argument")


EVAL_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("video None", {"video": None}, "video must be a file path"),
    ("scorer None", {"scorer": None}, "scorer must be"),
    ("scorer str", {"scorer": "syncnet_v2"}, "scorer must be"),
    ("audio int", {"audio": 1}, "audio must be a file path"),
    ("detector int", {"detector": 7}, "detector must be a FaceDetector"),
    ("cropped str", {"cropped": "yes"}, "cropped must be True or False"),
    ("reference int", {"reference": 1}, "reference must be a file path"),
    ("workdir int", {"workdir": 1}, "workdir must be a file path"),
    ("on_event int", {"on_event": 42}, "on_event must be a function"),
    ("no detector", {"detector": None}, "detector"),
]


@pytest.mark.parametrize(("label", "bad", "words"), EVAL_CASES, ids=[c[0] for c in EVAL_CASES])
def test_evaluate_video_refuses_bad_arguments_by_name(
    test_video: Path, label: str, bad: dict[str, Any], words: str
) -> None:
    from lipdub.eval import evaluate_video

    args: dict[str, Any] = {
        "video": test_video,
        "scorer": _NeverScorer(),
        "detector": FakeFaceDetector(),
    }
    args.update(bad)
    with pytest.raises(InputError) as err:
        evaluate_video(**args)
    _assert_one_line(err, words)


# --------------------------------------------------------------------------- dub_many


DUB_MANY_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("inputs None", {"inputs": None}, "inputs must be"),
    ("inputs one path", {"inputs": "talk.mp4"}, "inputs must be"),
    ("an input int", {"inputs": [5]}, "inputs[0]"),
    ("targets int", {"targets": 5}, "targets must be a language code"),
    ("pipeline list", {"pipeline": ["fake"]}, "pipeline must be"),
    ("workdir_root None", {"workdir_root": None}, "workdir_root must be a file path"),
    ("output_dir int", {"output_dir": 1}, "output_dir must be a file path"),
    ("address int", {"address": 1}, "address must be"),
    ("num_cpus zero", {"num_cpus": 0}, "num_cpus must be a whole number >= 1"),
    ("gpus negative", {"gpus_per_task": -1}, "gpus_per_task must be a finite number >= 0"),
    ("retries str", {"max_retries": "2"}, "max_retries must be a whole number"),
    ("api limit zero", {"api_concurrency": {"google": 0}}, "api_concurrency"),
    ("on_event int", {"on_event": 42}, "on_event must be a function"),
    ("cancel str", {"cancel": "stop"}, "cancel must be None"),
]


@pytest.mark.parametrize(
    ("label", "bad", "words"), DUB_MANY_CASES, ids=[c[0] for c in DUB_MANY_CASES]
)
def test_dub_many_refuses_bad_arguments_before_ray(
    test_video: Path, tmp_path: Path, label: str, bad: dict[str, Any], words: str
) -> None:
    import sys

    from lipdub.distributed import dub_many

    args: dict[str, Any] = {
        "inputs": [test_video],
        "targets": "es",
        "workdir_root": tmp_path / "wd",
    }
    args.update(bad)
    had_ray = "ray" in sys.modules
    with pytest.raises(InputError) as err:
        dub_many(**args)
    _assert_one_line(err, words)
    assert not (tmp_path / "wd").exists()
    if not had_ray:  # refused before Ray was even imported
        assert "ray" not in sys.modules


# --------------------------------------------------------------------------- constructors


@pytest.mark.parametrize(
    ("label", "make", "words"),
    [
        ("device int", lambda: DubbingPipeline(device=5), "device must be a non-empty string"),
        ("options dict", lambda: DubbingPipeline(options={}), "options must be a DubOptions"),
        ("to int", lambda: DubbingPipeline().to(5), "device must be a non-empty string"),
        ("facebox str", lambda: FaceBox("a", 0, 1, 1), "FaceBox.x1 must be a number, got str"),
        ("facebox None", lambda: FaceBox(0, 0, None, 1), "FaceBox.x2 must be a number"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_constructors_refuse_bad_arguments_by_name(label: str, make: Any, words: str) -> None:
    with pytest.raises(InputError) as err:
        make()
    _assert_one_line(err, words)


# --------------------------------------------------------------------------- lipdub.media


def _media_cases(tmp: Path) -> list[tuple[str, Any, str]]:
    from lipdub import media

    clip, frame = _clip(), np.zeros((8, 8, 3), np.uint8)
    out = tmp / "o.mp4"
    return [
        ("probe None", lambda: media.probe(None), "path must be a file path"),
        ("load_audio None", lambda: media.load_audio(None), "path must be a file path"),
        ("load_audio rate", lambda: media.load_audio(out, 16000.0), "sample_rate_hz must be"),
        ("reader None", lambda: media.VideoReader(None), "path must be a file path"),
        ("read_image 5", lambda: media.read_image(5), "path must be a file path"),
        ("is_image None", lambda: media.is_image(None), "path must be a file path"),
        ("write_audio None", lambda: media.write_audio(None, clip), "path must be a file path"),
        ("write_audio clip", lambda: media.write_audio(tmp / "a.wav", None), "audio must be"),
        ("mux None", lambda: media.mux_audio(None, clip, out), "video_path must be"),
        ("mux audio", lambda: media.mux_audio(out, None, out), "audio must be an AudioClip"),
        ("write_video None frame", lambda: media.write_video(out, [None], fps=25), "frames must"),
        ("write_video fps", lambda: media.write_video(out, [frame], fps="a"), "fps must be"),
        (
            "writer width",
            lambda: media.VideoWriter(out, fps=25, width="8", height=8),
            "width must be a whole number >= 1",
        ),
        (
            "writer crf",
            lambda: media.VideoWriter(out, fps=25, width=8, height=8, crf="18"),
            "crf must be a whole number from 0 to 51",
        ),
        (
            "writer audio",
            lambda: media.VideoWriter(out, fps=25, width=8, height=8, audio=5),
            "audio must be an AudioClip, AudioFile or None",
        ),
        ("iter_frames fps", lambda: list(media.iter_frames(out, fps="x")), "fps must be"),
    ]


@pytest.mark.parametrize("index", range(16))
def test_media_functions_refuse_bad_arguments_by_name(tmp_path: Path, index: int) -> None:
    cases = _media_cases(tmp_path)
    assert len(cases) == 16
    _label, call, words = cases[index]
    with pytest.raises(InputError) as err:
        call()
    _assert_one_line(err, words)
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a temporary file


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"batch_size": "20"}, "batch_size must be a whole number >= 1"),
        ({"batch_size": 0}, "batch_size must be a whole number >= 1"),
        ({"vshift": -1}, "vshift must be a whole number >= 0"),
        ({"device": 0}, "device must be a non-empty string or None"),
    ],
)
def test_syncnet_scorer_refuses_bad_arguments_by_name(kwargs: dict[str, Any], words: str) -> None:
    from lipdub.eval import SyncNetScorer
    from lipdub.models.syncnet_v2 import SyncNetV2

    with pytest.raises(InputError) as err:
        SyncNetScorer(net=SyncNetV2(), **kwargs)
    _assert_one_line(err, words)
    with pytest.raises(InputError, match="weights must be a file path"):
        SyncNetScorer(weights=5)  # type: ignore[arg-type]
