"""Subtitles: cue timing (never overlapping), SRT/WebVTT escaping, and burning into frames."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from lipdub.dub import speak_transcript, subtitle_cues
from lipdub.errors import InputError
from lipdub.testing import FakeVoiceSynth
from lipdub.types import Segment, Transcript


def _burner(**kwargs: object):  # type: ignore[no-untyped-def]
    pytest.importorskip("PIL")
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


# ------------------------------------------------------------------ cue timing


def _times(cues: Transcript) -> list[tuple[float, float]]:
    return [(c.start_s, c.end_s) for c in cues.segments]


def test_a_short_cue_ends_with_its_line_not_in_the_next() -> None:
    # The reported case: a 0.46 s line used to be shown until 0.8 s, over the next cue.
    t = Transcript("en", (Segment(0.0, 0.46, "Hi."), Segment(0.6, 1.2, "How are you?")))
    assert _times(subtitle_cues(t)) == [(0.0, 0.46), (0.6, 1.2)]
    # min_cue_s lengthens a short cue only into the silence before the next one.
    assert _times(subtitle_cues(t, min_cue_s=0.8)) == [(0.0, 0.6), (0.6, 1.4)]
    assert _times(subtitle_cues(t, min_cue_s=0.5)) == [(0.0, 0.5), (0.6, 1.2)]


def test_overlapping_source_lines_give_cues_that_do_not_overlap() -> None:
    t = Transcript(
        "en",
        (
            Segment(0.0, 2.0, "First."),
            Segment(1.5, 3.0, "Second, over the first."),
            Segment(1.5, 2.5, "Third, same start."),
            Segment(2.0, 2.2, "Fourth."),
        ),
    )
    cues = subtitle_cues(t)
    assert len(cues) == 4
    for a, b in itertools.pairwise(cues.segments):
        assert a.end_s <= b.start_s
    assert _times(cues)[0] == (0.0, 1.5) and _times(cues)[-1] == (2.0, 2.2)


def test_split_cues_of_a_long_line_share_its_span_and_follow_the_speech() -> None:
    long = " ".join(["palabra"] * 30)
    t = Transcript("es", (Segment(0.0, 4.0, long), Segment(4.2, 5.0, "Fin.")))
    _, report = speak_transcript(FakeVoiceSynth(seconds_per_word=0.05), t, total_s=6.0)
    cues = subtitle_cues(t, report)
    first, last = report.segments
    parts = [c for c in cues.segments if c.text != "Fin."]
    assert len(parts) > 1
    assert parts[0].start_s == round(first.start_s, 3)
    assert parts[-1].end_s == round(first.end_s, 3)  # ends when its speech ends
    assert cues.segments[-1].start_s == round(last.start_s, 3)
    for a, b in itertools.pairwise(cues.segments):
        assert a.end_s <= b.start_s


# ------------------------------------------------------------------ SRT and WebVTT text

# (text of a segment, as an SRT reads back, as a WebVTT reads back)
HOSTILE = [
    ("plain line", "plain line", "plain line"),
    ("a --> b", "a -> b", "a --> b"),
    ("<i>t</i> & <s>x</s> &amp;", "<i>t</i> & <s>x</s> &amp;", "<i>t</i> & <s>x</s> &amp;"),
    ("first\n\nafter a blank\n \n\nmore", "first after a blank more", "first after a blank more"),
    (
        "nul\x00 esc\x1b[31m bel\x07 c1\x9b\x7f tab\tx",
        "nul esc[31m bel c1 tab x",
        "nul esc[31m bel c1 tab x",
    ),
    (
        "00:00:01,000 --> 00:00:02,000",
        "00:00:01,000 -> 00:00:02,000",
        "00:00:01,000 --> 00:00:02,000",
    ),
    ("WEBVTT\nNOTE not a note", "WEBVTT NOTE not a note", "WEBVTT NOTE not a note"),
    ("\r\nwindows\r\nlines\r", "windows lines", "windows lines"),
]


@pytest.mark.parametrize(
    ("text", "srt_back", "vtt_back"),
    HOSTILE,
    ids=["plain", "arrow", "markup", "blank-lines", "controls", "timing-text", "header", "crlf"],
)
@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_cue_text_is_escaped_to_its_format_and_reads_back(
    text: str, srt_back: str, vtt_back: str, fmt: str, tmp_path: Path
) -> None:
    t = Transcript(
        "es", (Segment(0.0, 1.0, "before"), Segment(1.0, 2.0, text), Segment(2.5, 3.0, "after"))
    )
    path = t.save(tmp_path / f"t.es.{fmt}")
    written = path.read_text(encoding="utf-8")
    assert written.count("-->") == 3  # the timing lines only
    assert not any((ord(ch) < 32 and ch != "\n") or 0x7F <= ord(ch) <= 0x9F for ch in written)
    blocks = written.strip().split("\n\n")  # a blank line ends a cue: none inside one
    assert len(blocks) == (4 if fmt == "vtt" else 3)
    if fmt == "vtt":
        cue = blocks[2].split("\n", 1)[1]
        assert "<" not in cue and ">" not in cue.replace("&gt;", "")
    back = Transcript.load(path)
    assert [s.text for s in back.segments] == [
        "before",
        srt_back if fmt == "srt" else vtt_back,
        "after",
    ]
    assert _times(back) == _times(t)


def test_a_vtt_speaker_is_escaped_and_its_tags_read_as_text(tmp_path: Path) -> None:
    t = Transcript("es", (Segment(0.0, 1.0, "Hola.", speaker="Ana <b>&</b>\x1b"),))
    text = t.to_vtt()
    assert "<v Ana &lt;b&gt;&amp;&lt;/b&gt;>Hola." in text
    assert Transcript.from_srt(text, "es").segments[0].speaker == "Ana <b>&</b>"
    # A VTT from elsewhere: its tags are markup, not words.
    other = "WEBVTT\n\n00:01.250 --> 01:02.000 align:start\n<v.loud Bob>Sí, <i>claro</i> &lt;3\n"
    (seg,) = Transcript.from_srt(other, "es").segments
    assert (seg.speaker, seg.text) == ("Bob", "Sí, claro <3")
    assert (seg.start_s, seg.end_s) == (1.25, 62.0)  # WebVTT times may leave the hours out


@pytest.mark.parametrize(
    ("srt", "line", "what"),
    [
        ("1\n-00:00:01,000 --> 00:00:02,000\nHola.\n", 2, "a negative time"),
        ("\n\n1\n00:00:01,000 --> -00:00:02,000\nHola.\n", 4, "a negative time"),
        (
            "1\n00:00:00,500 --> 00:00:02,000\nA\n\n2\n00:00:01,999 --> 00:00:03,000\nB\n",
            6,
            "overlaps the one before it",
        ),
        ("1\n00:00:03,000 --> 00:00:02,000\nHola.\n", 2, "must be >= start_s"),
    ],
    ids=["negative-start", "negative-end", "overlap", "reversed"],
)
def test_a_bad_subtitle_file_is_refused_naming_the_line(
    srt: str, line: int, what: str, tmp_path: Path
) -> None:
    path = tmp_path / "t.es.srt"
    path.write_text(srt, encoding="utf-8")
    with pytest.raises(InputError) as info:
        Transcript.load(path)
    assert str(info.value).startswith(f"{path}: line {line}: ")
    assert what in str(info.value)


def test_a_transcript_with_overlapping_segments_saves_a_subtitle_file_lipdub_reads(
    tmp_path: Path,
) -> None:
    t = Transcript("en", (Segment(0.0, 2.0, "A"), Segment(1.5, 3.0, "B"), Segment(1.5, 2.0, "C")))
    for fmt in ("srt", "vtt"):
        back = Transcript.load(t.save(tmp_path / f"t.en.{fmt}"))
        assert _times(back) == [(0.0, 1.5), (1.5, 1.5), (1.5, 2.0)]
    assert Transcript.load(t.save(tmp_path / "t.json")) == t  # JSON keeps the times


def test_cues_that_touch_are_not_an_overlap(tmp_path: Path) -> None:
    srt = "1\n00:00:00,500 --> 00:00:02,000\nA\n\n2\n00:00:02,000 --> 00:00:03,000\nB\n"
    path = tmp_path / "t.es.srt"
    path.write_text(srt, encoding="utf-8")
    assert _times(Transcript.load(path)) == [(0.5, 2.0), (2.0, 3.0)]
    # lipdub's own edit path (the SRT copy of a translation) reads overlaps as they are.
    over = srt.replace("00:00:02,000 --> 00:00:03", "00:00:01,000 --> 00:00:03")
    assert len(Transcript.from_srt(over, "es")) == 2
