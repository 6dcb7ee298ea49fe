"""Files a user hands lipdub or edits, as an attacker or a careless editor would write them.

Each case goes through the CLI or the SDK as a user would hit it and ends in one error
line naming the file (and the line or turn), or in the right output: a sidecar kept,
a label's escapes stripped, a subtitle cue escaped, a 1 MB line refused before any
voice speaks, a wrong-language translation refused, a negative SRT time or overlapping
cues refused, an unsorted ``speakers.json`` refused, a 2-hour reference clip refused
from its header.
"""

from __future__ import annotations

import itertools
import json
import os
import struct
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import av
import pytest

from lipdub import DubbingPipeline
from lipdub.cli import main
from lipdub.errors import InputError
from lipdub.testing import (
    FakeFaceDetector,
    FakeTranscriber,
    FakeTranslator,
    FakeVoiceSynth,
    PassThroughLipSyncer,
)
from lipdub.types import Segment, Transcript

FAKES = ["--transcriber", "fake", "--translator", "fake", "--tts", "fake", "-q"]
ROOT = Path(__file__).resolve().parents[1]


def _pipeline(texts: list[str], **overrides: Any) -> DubbingPipeline:
    parts: dict[str, Any] = {
        "transcriber": FakeTranscriber.from_texts(texts, start_s=0.3, segment_s=0.8, gap_s=0.3),
        "translator": FakeTranslator(),
        "voice": FakeVoiceSynth(seconds_per_word=0.1),
        "detector": FakeFaceDetector(),
        "lipsyncer": PassThroughLipSyncer(),
    }
    parts.update(overrides)
    return DubbingPipeline(**parts)


@pytest.fixture
def clip(make_video: Any) -> Path:
    path: Path = make_video("talk.mp4", duration_s=3.0, fps=25)
    return path


def _env() -> dict[str, str]:
    """The environment of a ``lipdub`` subprocess that imports this checkout."""
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path}


def _error_line(err: str) -> str:
    """The one ``error:`` line of a failed command (and nothing like a traceback)."""
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


def _dub_refuses(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 1
    return _error_line(capsys.readouterr().err)


def _cues(path: Path) -> list[tuple[float, float, str]]:
    """(start, end, text) of each cue of an SRT/VTT file, as FFmpeg's demuxer reads it."""
    out = []
    with av.open(os.fspath(path)) as container:
        stream = container.streams[0]
        assert stream.type == "subtitle"
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            start = float(packet.pts * stream.time_base)
            end = start + float(packet.duration * stream.time_base)
            out.append((round(start, 3), round(end, 3), bytes(packet).decode("utf-8")))
    return out


# ------------------------------------------------------------------ subtitles


def test_the_srt_of_a_run_has_no_overlapping_cues_and_each_ends_with_its_line(
    clip: Path, tmp_path: Path
) -> None:
    # Short lines close together: the case that used to give 0.8 s cues through the next.
    source = Transcript(
        "en",
        (
            Segment(0.0, 0.46, "Hi."),
            Segment(0.6, 1.1, "Yes."),
            Segment(1.15, 1.5, "No."),
            Segment(1.4, 2.4, "Overlapping source line."),
        ),
    )
    pipe = _pipeline([], transcriber=FakeTranscriber(source))
    result = pipe.run(clip, "es", tmp_path / "out.es.mp4")
    assert result.timing is not None
    for path in (tmp_path / "out.es.srt", tmp_path / "out.en.srt"):
        cues = _cues(path)
        assert len(cues) == 4
        for (_, end, _), (start, _, _) in itertools.pairwise(cues):
            assert end <= start, (path.name, cues)
    # Source cues end with their lines (cut only where the next line starts).
    en = _cues(tmp_path / "out.en.srt")
    assert [c[:2] for c in en] == [(0.0, 0.46), (0.6, 1.1), (1.15, 1.4), (1.4, 2.4)]
    # Target cues follow the dubbed speech: each ends when its speech ends.
    es = _cues(tmp_path / "out.es.srt")
    placed = [(round(s.start_s, 3), round(s.end_s, 3)) for s in result.timing.segments]
    assert [c[:2] for c in es] == placed


def test_a_vtt_cue_is_escaped_and_an_srt_cue_is_never_split(clip: Path, tmp_path: Path) -> None:
    from lipdub.dub import DubOptions

    hostile = "a <b>bold</b> & c --> d\x1b[31m\x00\x07\n\n\nsecond line"
    source = Transcript(
        "en", (Segment(0.3, 1.2, hostile, speaker="S<1>"), Segment(1.5, 2.5, "Plain."))
    )
    pipe = _pipeline([], transcriber=FakeTranscriber(source))
    out = tmp_path / "out.es.mp4"
    pipe.run(clip, "es", out, options=DubOptions(subtitles=("srt", "vtt")))

    vtt = (tmp_path / "out.es.vtt").read_text(encoding="utf-8")
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; c --&gt; d[31m" in vtt
    assert "<v S&lt;1&gt;>" in vtt
    assert vtt.count("-->") == 2  # the two timing lines, nothing else
    first, _ = _cues(tmp_path / "out.es.vtt")
    assert first[2].startswith("<v S&lt;1&gt;>[es] a &lt;b&gt;")
    # Read back by lipdub: the text and speaker as they were, minus the control characters.
    back = Transcript.load(tmp_path / "out.es.vtt")
    assert back.segments[0].speaker == "S<1>"
    assert back.segments[0].text == "[es] a <b>bold</b> & c --> d[31m second line"

    for name in ("out.es.srt", "out.en.srt", "out.es.vtt", "out.en.vtt"):
        text = (tmp_path / name).read_text(encoding="utf-8")
        assert not any(ord(ch) < 32 and ch != "\n" for ch in text), name
        assert len(_cues(tmp_path / name)) == 2, name  # the blank lines split no cue
        assert text.count("-->") == 2, name

    # The work directory's SRT copy keeps the lines, without the blank ones or a raw -->.
    wd_srt = tmp_path / "talk.mp4.lipdub" / "translation.es.srt"
    srt = wd_srt.read_text(encoding="utf-8")
    assert "c -> d[31m\nsecond line\n\n2\n" in srt and srt.count("\n\n") == 1
    assert [c[2] for c in _cues(wd_srt)][1] == "[es] Plain."
    # Editing it and re-running works (it used to fail on the split cue).
    wd_srt.write_text(wd_srt.read_text(encoding="utf-8").replace("Plain.", "Llano."), "utf-8")
    result = pipe.run(clip, "es", out, options=DubOptions(subtitles=("srt", "vtt")))
    assert result.translation is not None
    assert result.translation.segments[1].text == "[es] Llano."


def test_a_users_sidecar_srt_beside_the_output_is_kept_and_said_so(
    clip: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.es.mp4"
    mine = tmp_path / "out.es.srt"
    mine.write_text("1\n00:00:00,000 --> 00:00:02,000\nMy own subtitles.\n", encoding="utf-8")
    pipe = _pipeline(["Hello there.", "How are you?"])
    result = pipe.run(clip, "es", out)
    assert out.is_file()
    assert mine.read_text(encoding="utf-8").endswith("My own subtitles.\n")  # untouched
    assert result.subtitles == (tmp_path / "out.en.srt",)  # only what was written
    (notice,) = [n for n in result.notices if "out.es.srt" in n]
    assert "kept" in notice and "--redo subtitles" in notice

    # lipdub's own sidecar, edited by the user afterwards, is kept as well.
    en = tmp_path / "out.en.srt"
    en.write_text(en.read_text(encoding="utf-8").replace("Hello", "HELLO"), encoding="utf-8")
    pipe.run(clip, "es", out)
    assert "HELLO" in en.read_text(encoding="utf-8")

    # --redo subtitles: the user's file is moved aside to a .bak and replaced.
    result = pipe.run(clip, "es", out, redo=["subtitles"])
    (backup,) = tmp_path.glob("out.es.srt.*.bak")
    assert backup.read_text(encoding="utf-8").endswith("My own subtitles.\n")
    assert "[es] Hello there." in mine.read_text(encoding="utf-8")
    assert set(result.subtitles) == {mine, en}


def test_the_shared_source_subtitles_are_lipdubs_whichever_language_wrote_them(
    clip: Path, tmp_path: Path
) -> None:
    pipe = _pipeline(["Hello there.", "How are you?"])
    out = str(tmp_path / "talk.{lang}.mp4")
    results = pipe.run(clip, ["es", "fr"], out)
    assert not [n for r in results for n in r.notices if "kept" in n]
    again = pipe.run(clip, "fr", tmp_path / "talk.fr.mp4", redo=["subtitles"])
    assert not [n for n in again.notices if "kept" in n or "aside" in n]
    assert (tmp_path / "talk.en.srt") in again.subtitles
    assert not list(tmp_path.glob("*.bak"))
    # Another work directory writing the very same files: nothing of the user's at stake.
    other = pipe.run(clip, "es", tmp_path / "talk.es.mp4", workdir=tmp_path / "other")
    assert not [n for n in other.notices if "kept" in n]
    assert set(other.subtitles) == {tmp_path / "talk.es.srt", tmp_path / "talk.en.srt"}


# ------------------------------------------------------------------ the terminal


def test_a_speaker_labels_escapes_never_reach_the_terminal(clip: Path, tmp_path: Path) -> None:
    """The warning naming a speaker (no reference clip for them) shows no raw ESC/BEL."""
    pytest.importorskip("espeakng_loader")
    wd = tmp_path / "wd"
    wd.mkdir()
    label = "S\x1b]0;owned\x07\x1b[2J\x1b[31mX\x07\x00"
    turns = [{"start_s": 0.3, "end_s": 0.6, "speaker": label}]
    (wd / "speakers.json").write_text(json.dumps({"turns": turns}), encoding="utf-8")
    code = (
        "import sys, lipdub.testing as t; t.register_fakes(); "
        "from lipdub.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    args = ["dub", str(clip), "--to", "es", "--workdir", str(wd), *FAKES]
    args += ["--speakers", "2", "--separator", "duck", "--voice", "clone", "--tts", "match"]
    done = subprocess.run(
        [sys.executable, "-c", code, *args, "--stop-after", "translate"],
        env=_env(),
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    err = done.stderr.decode("utf-8")
    warning = [ln for ln in err.splitlines() if "under 1 s of clear speech" in ln]
    assert len(warning) == 1, err
    assert "SX" in warning[0] and "\\x07" in warning[0] and "\\x00" in warning[0]
    printed = done.stdout + done.stderr
    assert b"\x1b" not in printed and b"\x07" not in printed and b"\x00" not in printed


def test_a_file_names_escapes_never_reach_the_terminal(tmp_path: Path) -> None:
    from lipdub.testing.media import make_test_video

    video = make_test_video(tmp_path / "talk \x1b[2J\x1b[31mred\x07.mp4", duration_s=0.5)
    cli = [sys.executable, "-m", "lipdub.cli"]
    env = _env()
    done = subprocess.run([*cli, "probe", str(video)], env=env, capture_output=True, timeout=120)
    assert done.returncode == 0
    assert b"talk red\\x07.mp4" in done.stdout  # the sequences dropped, BEL shown escaped
    missing = str(tmp_path / "gone\x1b]0;title\x07\x1b[31m.mp4")
    usage = [*cli, "probe", str(video), "extra\x1b[31m\x07"]
    for argv in ([*cli, "probe", missing], usage):
        done = subprocess.run(argv, env=env, capture_output=True, timeout=120)
        assert done.returncode != 0
        assert b"\x1b" not in done.stdout + done.stderr and b"\x07" not in done.stderr
        assert len(done.stderr.decode().strip().splitlines()) == 1, done.stderr


# ------------------------------------------------------------------ given and edited files


def test_a_translation_in_another_language_is_refused(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    given = tmp_path / "mine.json"
    Transcript("fr", (Segment(0.3, 1.0, "Bonjour."),)).save(given)
    wd = tmp_path / "wd"
    args = ["dub", str(clip), "--to", "es", "--workdir", str(wd), *FAKES]
    line = _dub_refuses([*args, "--translation", str(given)], capsys)
    assert "mine.json" in line and '"language": "fr"' in line and "'es'" in line
    assert not (wd / "translation.es.json").exists()

    # The same edit made in the work directory is refused too, and never overwritten.
    assert main([*args, "--stop-after", "translate"]) == 0
    path = wd / "translation.es.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["language"] = "fr"
    path.write_text(json.dumps(data), encoding="utf-8")
    line = _dub_refuses([*args, "--stop-after", "translate"], capsys)
    assert "translation.es.json" in line and '"language": "fr"' in line
    assert json.loads(path.read_text(encoding="utf-8"))["language"] == "fr"
    # A regional variant of the same language is fine.
    data["language"] = "es-MX"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert main([*args, "--stop-after", "translate"]) == 0


@pytest.mark.parametrize(
    ("srt", "expected"),
    [
        ("1\n-00:00:01,000 --> 00:00:02,000\nHola.\n", ["line 2", "negative time"]),
        ("1\n00:00:01,000 --> -00:00:02,000\nHola.\n", ["line 2", "negative time"]),
        (
            "1\n00:00:00,500 --> 00:00:02,000\nHola.\n\n2\n00:00:01,500 --> 00:00:02,500\nAdiós.\n",
            ["line 6", "overlaps the one before it", "00:00:02,000"],
        ),
        ("1\n00:00:02,000 --> 00:00:01,000\nHola.\n", ["line 2", "end_s"]),
    ],
    ids=["negative-start", "negative-end", "overlapping-cues", "end-before-start"],
)
def test_a_bad_translation_srt_is_one_line_naming_the_line(
    clip: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    srt: str,
    expected: list[str],
) -> None:
    given = tmp_path / "mine.es.srt"
    given.write_text(srt, encoding="utf-8")
    wd = tmp_path / "wd"
    args = ["dub", str(clip), "--to", "es", "--workdir", str(wd), *FAKES]
    line = _dub_refuses([*args, "--translation", str(given), "--stop-after", "translate"], capsys)
    assert "mine.es.srt" in line
    for part in expected:
        assert part in line
    assert not (wd / "translation.es.json").exists()


def test_a_1mb_line_is_refused_before_any_voice_speaks(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    huge = " ".join(["palabra"] * 131072)  # 1 MiB of text in one segment
    given = tmp_path / "mine.json"
    Transcript("es", (Segment(0.3, 1.0, "Hola."), Segment(1.2, 2.0, huge))).save(given)
    wd = tmp_path / "wd"
    args = ["dub", str(clip), "--to", "es", "--workdir", str(wd), *FAKES]
    line = _dub_refuses([*args, "--translation", str(given)], capsys)
    assert "mine.json" in line and "segment 1" in line
    assert f"is {len(huge)} characters long; a segment holds at most 20000" in line
    assert not (wd / "speech.es.wav").exists() and not (wd / "speech").exists()

    # The SDK, with the voice at hand: it is never called.
    voice = FakeVoiceSynth()
    with pytest.raises(InputError, match=r"segment 1 .* characters long"):
        _pipeline([], voice=voice).run(clip, "es", translation=given, workdir=tmp_path / "wd2")
    assert voice.calls == []
    from lipdub.dub import speak_transcript

    with pytest.raises(InputError, match="segment 1"):
        speak_transcript(
            voice,
            Transcript("es", (Segment(0.3, 1.0, "Hola."), Segment(1.2, 2.0, huge))),
            total_s=3.0,
        )
    assert voice.calls == []

    # `lipdub speak TEXT` too, before the voice is made to speak it.
    out = tmp_path / "said.wav"
    speak = ["speak", huge, "--lang", "es", "--backend", "fake", "-o", str(out)]
    line = _dub_refuses(speak, capsys)
    assert f"the text is {len(huge)} characters long" in line and not out.exists()

    # The limit is raised with its environment variable, as the README says.
    monkeypatch.setenv("LIPDUB_MAX_SEGMENT_CHARS", str(2 << 20))
    assert len(Transcript.load(given).segments[1].text) == len(huge)
    monkeypatch.delenv("LIPDUB_MAX_SEGMENT_CHARS")

    # A line that is merely long for its place (900 characters 2 s before the end of a
    # 3 s video) is refused as well: no voice says it in time.
    Transcript("es", (Segment(1.0, 2.0, "x " * 450),)).save(given)
    line = _dub_refuses([*args, "--translation", str(given), "--workdir", str(wd)], capsys)
    assert "translation.es.json" in line and "segment 0" in line
    assert "2.0 s from its start to the end of the media" in line


@pytest.mark.parametrize(
    ("turns", "expected"),
    [
        (
            [(1.0, 2.0, "S1"), (0.2, 0.8, "S2")],
            "turn 2 (0.2-0.8 s) starts before turn 1 (1-2 s)",
        ),
        ([(0.2, 1.5, "S1"), (1.0, 2.0, "S2")], "turn 2 (1-2 s) overlaps turn 1 (0.2-1.5 s)"),
        ([(-1.0, 0.5, "S1")], "turn 1: start_s must be finite and >= 0, got -1.0"),
        ([(0.2, "Infinity", "S1")], "turn 1: end_s must be finite and >= 0, got inf"),
        ([(0.2, "NaN", "S1")], "turn 1: end_s must be finite and >= 0, got nan"),
        ([(0.2, 1.0, 7)], "turn 1: speaker must be a non-empty string, got 7"),
        ([(1.0, 0.5, "S1")], "turn 1 ends (0.5 s) before it starts (1 s)"),
    ],
    ids=["unsorted", "overlapping", "negative", "infinite", "nan", "label-not-text", "reversed"],
)
def test_a_bad_speakers_json_is_one_line_naming_the_turn(
    clip: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    turns: list[tuple[Any, Any, Any]],
    expected: str,
) -> None:
    wd = tmp_path / "wd"
    wd.mkdir()
    rows = []
    for a, b, label in turns:
        rows.append(f'{{"start_s": {a}, "end_s": {b}, "speaker": {json.dumps(label)}}}')
    text = '{"turns": [' + ", ".join(rows) + "]}"
    (wd / "speakers.json").write_text(text, encoding="utf-8")
    args = ["dub", str(clip), "--to", "es", "--workdir", str(wd), *FAKES]
    line = _dub_refuses([*args, "--speakers", "2", "--stop-after", "translate"], capsys)
    assert "speakers.json" in line and expected in line, line
    assert (wd / "speakers.json").read_text(encoding="utf-8") == text  # never replaced
    assert not (wd / "translation.es.json").exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "is 20 MiB; a speaker map is at most 16 MiB"),
        ("[" * 100_000, "not readable JSON: nested too deeply"),
        ('{"turns": [], "speakers": {"S1": {"voice": 5}}}', "speakers.S1.voice must be"),
    ],
    ids=["oversized", "nested", "voice-not-text"],
)
def test_an_unreadable_speakers_json_is_one_line(
    clip: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str | None,
    expected: str,
) -> None:
    wd = tmp_path / "wd"
    wd.mkdir()
    path = wd / "speakers.json"
    if content is None:
        with path.open("wb") as f:  # sparse: 20 MiB of NUL bytes, no disk used
            f.truncate(20 << 20)
    else:
        path.write_text(content, encoding="utf-8")
    args = ["dub", str(clip), "--to", "es", "--workdir", str(wd), *FAKES]
    line = _dub_refuses([*args, "--speakers", "2", "--stop-after", "translate"], capsys)
    assert "speakers.json" in line and expected in line, line


def _sparse_wav(path: Path, seconds: float, rate: int = 16000) -> Path:
    """A 16-bit mono WAV of ``seconds`` of silence, as a sparse file (no disk used)."""
    data = round(seconds * rate) * 2
    header = b"RIFF" + struct.pack("<I", 36 + data) + b"WAVEfmt "
    header += struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    header += b"data" + struct.pack("<I", data)
    with path.open("wb") as f:
        f.write(header)
        f.truncate(len(header) + data)
    return path


def test_a_two_hour_reference_clip_is_refused_from_its_header(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("espeakng_loader")
    wd = tmp_path / "wd"
    (wd / "voices").mkdir(parents=True)
    ref = _sparse_wav(wd / "voices" / "S1.wav", 2 * 3600.0)  # 230 MB declared
    args = ["dub", str(clip), "--to", "es", "--workdir", str(wd), *FAKES[:-3], "-q"]
    args += ["--voice", "clone", "--tts", "match", "--separator", "duck", "--stop-after", "speak"]
    tracemalloc.start()
    try:
        line = _dub_refuses(args, capsys)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "S1.wav" in line and "7200 s long; a reference is at most 300 s" in line
    assert peak < 100 << 20  # the clip was not decoded (it would be 460 MB as float32)
    assert ref.stat().st_size > 200 << 20  # and it is still there, untouched

    out = tmp_path / "said.wav"
    speak = ["speak", "Hola.", "--lang", "es", "--reference", str(ref), "-o", str(out)]
    line = _dub_refuses(speak, capsys)
    assert "S1.wav" in line and "7200 s long" in line and not out.exists()
