"""A dub that fits its time (#26): budgets reach a length-aware translator, and a line
too long even at max_rate stops the dub in one line, or is cut and reported."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from conftest import assert_no_line_faster_than_max_rate

from lipdub.cli import main
from lipdub.dub import DubbingPipeline, DubOptions, FitOptions
from lipdub.dub.budget import line_budgets, line_windows
from lipdub.errors import TimingFitError
from lipdub.testing import FakeFaceDetector, FakeTranscriber, FakeVoiceSynth
from lipdub.testing.fitting import FittingTranslator, WordyTranslator
from lipdub.types import Segment, Transcript
from lipdub.voice.length import predictor_for

TEXTS = ["One two three.", "Four five six.", "Seven eight nine."]
# (0.5, 1.7), (2.1, 3.3), (3.7, 4.9) in a 5 s clip
SOURCE = {"start_s": 0.5, "segment_s": 1.2, "gap_s": 0.4}


def _pipeline(translator: object) -> DubbingPipeline:
    return DubbingPipeline(
        transcriber=FakeTranscriber.from_texts(TEXTS, **SOURCE),  # type: ignore[arg-type]
        translator=translator,  # type: ignore[arg-type]
        voice="fake",
        detector=FakeFaceDetector(),
        lipsyncer="passthrough",
    )


@pytest.fixture
def clip(make_video) -> Path:  # type: ignore[no-untyped-def]
    return make_video("talk.mp4", duration_s=5.0, fps=25)


def test_a_translation_three_times_too_long_stops_the_dub_in_one_line(
    clip: Path, tmp_path: Path
) -> None:
    out = tmp_path / "talk.es.mp4"
    pipe = _pipeline(WordyTranslator())
    with pytest.raises(TimingFitError) as caught:
        pipe.run(clip, "es", out)
    err = caught.value
    # lines 2 and 3 (1-based): 2.5 s of speech at 1.2x each, the first moves the second
    assert err.lines == (1, 2)
    text = str(err)
    assert "\n" not in text and text.startswith(str(tmp_path))
    assert "2 lines are too long for their time even at 1.20x: 2 ('[es] Four" in text
    assert ", 3 ('[es] Seven" in text
    for way in ("shorten them in translation.es.json", "--max-rate", "--allow-truncation"):
        assert way in text
    assert not out.exists()  # no video, so none with lines cut short
    # the report says which lines, for the review page
    timing = json.loads((tmp_path / "talk.mp4.lipdub" / "timing.es.json").read_text())
    assert [r["index"] for r in timing["segments"] if r["status"] == "cut"] == [1, 2]
    assert timing["cut"] == 2 and timing["max_rate"] == 1.2
    # the review page lists them first, then the rest in order
    from lipdub.review.session import ReviewSession

    rows = ReviewSession(tmp_path / "talk.mp4.lipdub", pipe).state("es")["rows"]
    assert [(r["index"], r["timing"]["status"]) for r in rows] == [
        (1, "cut"),
        (2, "cut"),
        (0, "ok"),  # started 0.5 s early, in the silence before it
    ]
    assert rows[2]["timing"]["delay_s"] == pytest.approx(-0.5)

    # Accepting the cut writes the video and reports each cut line; the speech is reused.
    result = pipe.run(clip, "es", out, options=DubOptions(allow_truncation=True))
    assert result.output == out and out.exists()
    assert "speak" in result.reused and "lipsync" in result.ran
    assert result.timing is not None
    cut = result.timing.cut
    assert [s.index for s in cut] == [1, 2] and all(s.cut_s >= 0.45 for s in cut)
    assert all(s.speech_s > 0 for s in result.timing.segments)  # every line heard
    summary = result.describe()
    assert "cut (too long for their time): 2" in summary
    assert "cut: line 2 ('[es] Four" in summary and "cut: line 3 ('[es] Seven" in summary


def test_the_cli_refuses_in_one_line_and_allow_truncation_reports_each_cut_line(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "talk.es.mp4"
    args = [
        "dub",
        str(clip),
        "--to",
        "es",
        "--transcriber",
        "fake",
        "--translator",
        "wordy",
        "--opt",
        "translator.factor=10",  # 6.3 s of speech for 1.5 s of source, in a 5 s clip
        "--tts",
        "fake",
        "--detector",
        "fake",
        "--lipsyncer",
        "passthrough",
        "-q",
    ]
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "too long for its time" in err
    assert "--allow-truncation" in err and not out.exists()

    assert main([*args, "--allow-truncation"]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and out.exists()
    assert "cut: line 1 ('[es] Hello world. Hello world." in printed

    # A raised ceiling is used, and no line passes it.
    assert main([*args, "--max-rate", "3.0", "-o", str(tmp_path / "fast.mp4")]) == 0
    report = tmp_path / "talk.mp4.lipdub" / "timing.es.json"
    assert json.loads(report.read_text())["max_rate"] == 3.0
    assert assert_no_line_faster_than_max_rate(report) == 1
    assert main([*args, "--max-rate", "0.5"]) == 2  # argparse's refusal
    assert "0.5 is outside [1.0, 4.0]" in capsys.readouterr().err


def test_a_budget_aware_translator_receives_the_slots_of_the_source_timing(
    clip: Path, tmp_path: Path
) -> None:
    translator = FittingTranslator()
    result = _pipeline(translator).run(clip, "es", tmp_path / "talk.es.mp4")
    (fit,) = translator.fits
    source = FakeTranscriber.from_texts(TEXTS, **SOURCE).transcript  # type: ignore[arg-type]
    slots = [s.end_s - s.start_s for s in source.segments]
    assert [b.slot_s for b in fit.budgets] == pytest.approx(slots) == [1.2, 1.2, 1.2]
    # + the silences the fit may borrow: 0.5 s before the first line (max_lead_s), half
    # of the 0.4 s silences less the 0.1 s pause, and the end of the media for the last
    assert [b.seconds for b in fit.budgets] == pytest.approx([1.85, 1.5, 1.45])
    assert fit.length == predictor_for(FakeVoiceSynth(), language="es")
    assert [b.chars for b in fit.budgets] == [fit.length.chars_in(b.seconds) for b in fit.budgets]
    assert fit.max_rate == 1.2 and fit.speakers == (None, None, None)
    # what the timing fit gives each line is the budget the translator was told
    assert result.timing is not None
    assert [s.budget_s for s in result.timing.segments] == pytest.approx([1.85, 1.5, 1.45])
    assert result.timing.cut == [] and result.output is not None


def test_the_translate_key_holds_the_budgets_only_for_a_length_aware_translator(
    clip: Path, tmp_path: Path
) -> None:
    def translate(translator: object, max_rate: float) -> tuple[list[str], list[str]]:
        result = _pipeline(translator).run(
            clip,
            "es",
            tmp_path / "talk.es.mp4",
            stop_after="translate",
            options=DubOptions(fit=FitOptions(max_rate=max_rate)),
        )
        return result.ran, result.reused

    assert "translate" in translate("fake", 1.2)[0]
    assert "translate" in translate("fake", 1.5)[1]  # the same text: reused
    fitting = FittingTranslator()
    assert "translate" in translate(fitting, 1.2)[0]
    assert "translate" in translate(fitting, 1.2)[1]
    assert "translate" in translate(fitting, 1.5)[0]  # other budgets: translated again
    assert [f.max_rate for f in fitting.fits] == [1.2, 1.5]


def test_budgets_are_the_fit_windows_and_never_overlap() -> None:
    t = Transcript(
        "en",
        (
            Segment(0.2, 1.0, "a"),
            Segment(1.1, 2.0, "b"),  # 0.1 s after: no silence to share
            Segment(2.5, 3.0, "   "),  # nothing to say: no budget, no neighbour
            Segment(4.0, 4.5, "c"),
        ),
    )
    options = FitOptions()
    budgets = line_budgets(t, total_s=6.0, options=options)
    assert [(b.slot_s, round(b.seconds, 6)) for b in budgets] == [
        (pytest.approx(0.8), 1.0),  # 0.2 s early, ends 0.1 s before the next line
        (pytest.approx(0.9), 2.3),  # runs until 0.5 s before "c" (less the pause)
        (0.0, 0.0),
        (pytest.approx(0.5), 2.5),  # 0.5 s early, to the end of the media
    ]
    windows = line_windows([(0.2, 1.0), (1.1, 2.0), (4.0, 4.5)], total_s=6.0, options=options)
    for a, b in itertools.pairwise(windows):
        assert a.end_s + options.min_pause_s <= b.start_s + 1e-9
    assert line_budgets(t, total_s=6.0, options=FitOptions(max_lead_s=0))[0].seconds == 0.8
    assert WordyTranslator(2).translate(["a b"], "en", "es") == ["[es] a b a b"]


def test_the_max_rate_check_of_every_test_dub_catches_a_line_too_fast(tmp_path: Path) -> None:
    report = tmp_path / "wd" / "timing.es.json"
    report.parent.mkdir()
    row = {"index": 0, "speed": 1.25}
    report.write_text(json.dumps({"segments": [row], "max_rate": 1.2}))
    with pytest.raises(AssertionError, match=r"faster than max_rate 1\.2"):
        assert_no_line_faster_than_max_rate(report)
    report.write_text(json.dumps({"segments": [{**row, "speed": 1.2}], "max_rate": 1.2}))
    assert assert_no_line_faster_than_max_rate(report) == 1
    report.write_text(json.dumps({"segments": [row]}))  # an older report: not the fit's
    assert assert_no_line_faster_than_max_rate(report) == 0
