"""A cloned dub line by line: each line spoken in its own speaker's reference, the
reference named in timing.<lang>.json, and one loud line when cloning cannot do as asked."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lipdub._hashing import clip_key, file_sha256
from lipdub.diarize import SpeakerTurn
from lipdub.dub.clone import check_clone_lines
from lipdub.dub.options import DubOptions, QualityOptions
from lipdub.dub.pipeline import DubbingPipeline
from lipdub.dub.timing import TimingReport
from lipdub.errors import InputError
from lipdub.testing import FakeFaceDetector, FakeTranscriber, PassThroughLipSyncer
from lipdub.testing.cloning import RecordingCloneVoice
from lipdub.testing.diarize import FixedTurnsDiarizer
from lipdub.translate.identity import IdentityTranslator
from lipdub.types import Segment, Transcript
from lipdub.voice.clone_ref import read_reference


def _lines(*speakers: str | None) -> Transcript:
    return Transcript(
        "es", tuple(Segment(i, i + 1, f"línea {i}", speaker=s) for i, s in enumerate(speakers))
    )


# ------------------------------------------------------------------ the checks


def test_every_line_with_a_found_speaker_and_every_speaker_heard_says_nothing() -> None:
    assert check_clone_lines(_lines("S1", "S2", "S1"), ["S1", "S2"], source="t.json") is None


def test_lines_without_a_speaker_and_speakers_without_a_line_are_one_warning_line() -> None:
    said = check_clone_lines(_lines("S1", None, "S9", None), ["S1", "S2", "S3"], source="t.json")
    assert said == (
        "--voice clone: in t.json lines 1, 3 have no speaker; line 2 (S9) names a speaker "
        "the speaker map does not have (they get the voice's default); speakers S2, S3 have "
        "no line (never heard)"
    )
    assert "\n" not in said
    one = check_clone_lines(_lines("S1", None), ["S1"], source="t.json")
    assert one == "--voice clone: in t.json line 1 has no speaker (it gets the voice's default)"
    # a blank line is not spoken: it needs no speaker
    blank = Transcript("es", (Segment(0, 1, "hola", speaker="S1"), Segment(1, 2, " ")))
    assert check_clone_lines(blank, ["S1"], source="t.json") is None


def test_no_line_with_a_speaker_is_an_error_with_a_hint() -> None:
    with pytest.raises(InputError, match=r"no line of t\.json has a speaker") as e:
        check_clone_lines(_lines(None, "X"), ["S1", "S2"], source="t.json")
    assert "(found: S1, S2)" in str(e.value) and "\n" not in str(e.value)
    assert e.value.hint and "speaker" in e.value.hint
    with pytest.raises(InputError, match=r"found: none \(no turns\)"):
        check_clone_lines(_lines(None), [], source="t.json")


# ------------------------------------------------------------------ in a dub

TURNS = [SpeakerTurn(0.3, 3.6, "S1"), SpeakerTurn(4.0, 7.7, "S2")]


def _pipe(
    voice: RecordingCloneVoice,
    source: Transcript,
    turns: Any = TURNS,
    num_speakers: int | None = None,
) -> DubbingPipeline:
    return DubbingPipeline(
        transcriber=FakeTranscriber(source),
        translator=IdentityTranslator(),
        voice=voice,
        detector=FakeFaceDetector(),
        lipsyncer=PassThroughLipSyncer(),
        separator="duck",
        diarizer=FixedTurnsDiarizer(turns, num_speakers=num_speakers),
    )


def test_a_line_across_a_speaker_change_is_split_and_each_part_spoken_in_its_own_reference(
    make_video: Any,
) -> None:
    clip = make_video("talk.mp4", duration_s=8.0)
    wd = clip.with_name("wd")
    # one segment across both turns, no word times: split at the change, flagged
    source = Transcript("en", (Segment(0.3, 7.7, "Are you there? Yes, I am here now."),))
    voice = RecordingCloneVoice()
    result = _pipe(voice, source).run(clip, "es", workdir=wd, stop_after="speak")
    translation = Transcript.load(wd / "translation.es.json")
    assert [(s.speaker, s.text) for s in translation.segments] == [
        ("S1", "Are you there?"),
        ("S2", "Yes, I am here now."),
    ]
    (flag,) = [n for n in result.notices if "no word times" in n]
    assert flag.startswith("transcript.en.json: segment 0 (0.30-7.70 s, no word times) split at")
    assert not any(n.startswith("--voice clone") for n in result.notices)  # nothing to say
    # the voice got each line's own speaker's reference, and the report names that file
    got = dict(voice.heard)
    timing = TimingReport.load(wd / "timing.es.json")
    for line in timing.segments:
        ref = wd / "voices" / f"{line.speaker}.wav"
        assert (line.reference, line.reference_sha256) == (
            f"voices/{line.speaker}.wav",
            file_sha256(ref),
        )
        assert got[line.text] == clip_key(read_reference(ref, sample_rate_hz=24000))
    assert len({got[line.text] for line in timing.segments}) == 2


def test_a_speaker_without_a_line_and_a_line_without_a_speaker_are_said_in_one_line(
    make_video: Any,
) -> None:
    clip = make_video("talk.mp4", duration_s=8.0)
    wd = clip.with_name("wd")
    source = Transcript("en", (Segment(0.5, 3.0, "Only me."), Segment(4.2, 5.0, "And me.")))
    turns = [*TURNS[:1], SpeakerTurn(3.6, 6.0, "S2"), SpeakerTurn(6.2, 7.9, "S3")]
    voice = RecordingCloneVoice()
    # no quality retry: it would speak a line again without the clone (the fake voice
    # sounds like no speaker), and this test follows what the speak stage does
    unchecked = DubOptions(quality=QualityOptions(check=False))
    result = _pipe(voice, source, turns).run(
        clip, "es", workdir=wd, stop_after="speak", options=unchecked
    )
    said = [n for n in result.notices if n.startswith("--voice clone")]
    assert said == ["--voice clone: in translation.es.json speaker S3 has no line (never heard)"]
    # a person takes line 1's speaker out of the translation: said, and it is spoken in
    # the voice's default (no reference)
    data = json.loads((wd / "translation.es.json").read_text())
    del data["segments"][1]["speaker"]
    (wd / "translation.es.json").write_text(json.dumps(data))
    voice.heard.clear()
    again = _pipe(voice, source, turns).run(
        clip, "es", workdir=wd, stop_after="speak", options=unchecked
    )
    said = [n for n in again.notices if n.startswith("--voice clone")]
    assert said == [
        "--voice clone: in translation.es.json line 1 has no speaker (it gets the voice's "
        "default); speakers S2, S3 have no line (never heard)"
    ]
    assert dict(voice.heard).get("And me.", "cached") is None
    timing = TimingReport.load(wd / "timing.es.json")
    assert [s.reference for s in timing.segments] == ["voices/S1.wav", None]


def test_a_translation_with_no_speaker_at_all_stops_the_clone(make_video: Any) -> None:
    clip = make_video("talk.mp4", duration_s=8.0)
    wd = clip.with_name("wd")
    source = Transcript("en", (Segment(0.5, 3.0, "Only me."), Segment(4.2, 5.0, "And me.")))
    pipe = _pipe(RecordingCloneVoice(), source)
    pipe.run(clip, "es", workdir=wd, stop_after="translate")
    data = json.loads((wd / "translation.es.json").read_text())
    for seg in data["segments"]:
        del seg["speaker"]
    (wd / "translation.es.json").write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"no line of translation\.es\.json has a speaker"):
        pipe.run(clip, "es", workdir=wd, stop_after="speak")
    assert not (wd / "speech.es.wav").exists()


def test_without_speaker_analysis_every_line_names_the_one_reference(make_video: Any) -> None:
    clip = make_video("talk.mp4", duration_s=8.0)
    wd = clip.with_name("wd")
    source = Transcript("en", (Segment(0.5, 3.0, "Only me."), Segment(4.2, 5.0, "And me.")))
    pipe = DubbingPipeline(
        transcriber=FakeTranscriber(source),
        translator=IdentityTranslator(),
        voice=RecordingCloneVoice(),
        detector=FakeFaceDetector(),
        lipsyncer=PassThroughLipSyncer(),
        separator="duck",
    )
    result = pipe.run(clip, "es", workdir=wd, stop_after="speak")
    assert not any(n.startswith("--voice clone") for n in result.notices)
    timing = TimingReport.load(wd / "timing.es.json")
    sha = file_sha256(wd / "voices" / "S1.wav")
    assert [(s.speaker, s.reference, s.reference_sha256) for s in timing.segments] == [
        (None, "voices/S1.wav", sha),
        (None, "voices/S1.wav", sha),
    ]


def test_a_speaker_map_without_turns_is_said(make_video: Any) -> None:
    from lipdub.testing import FakeVoiceSynth

    clip = make_video("talk.mp4", duration_s=4.0)
    source = Transcript("en", (Segment(0.5, 3.0, "Only me."),))
    pipe = DubbingPipeline(
        transcriber=FakeTranscriber(source),
        translator=IdentityTranslator(),
        voice=FakeVoiceSynth(),
        detector=FakeFaceDetector(),
        lipsyncer=PassThroughLipSyncer(),
        separator="duck",
        diarizer=FixedTurnsDiarizer([]),
    )
    result = pipe.run(clip, "es", workdir=clip.with_name("wd"), stop_after="translate")
    assert (
        "speakers.json has no speaker turns, so no line has a speaker; add the turns there, "
        "or delete it to find the speakers again"
    ) in result.notices


def test_cloning_with_a_speaker_map_without_turns_stops(make_video: Any) -> None:
    clip = make_video("talk.mp4", duration_s=4.0)
    source = Transcript("en", (Segment(0.5, 3.0, "Only me."),))
    pipe = _pipe(RecordingCloneVoice(), source, turns=[])
    with pytest.raises(InputError, match=r"found: none \(no turns\)"):
        pipe.run(clip, "es", workdir=clip.with_name("wd"), stop_after="speak")


def test_fewer_speakers_than_asked_for_is_said_in_one_line(make_video: Any) -> None:
    """--speakers 3 where the diarizer tells only two apart: the dub says so."""
    clip = make_video("talk.mp4", duration_s=8.0)
    source = Transcript("en", (Segment(0.3, 3.6, "Hello."), Segment(4.0, 7.7, "Hi.")))

    def asked_for(num_speakers: int, workdir: str) -> list[str]:
        pipe = _pipe(RecordingCloneVoice(), source, num_speakers=num_speakers)
        result = pipe.run(clip, "es", workdir=clip.with_name(workdir), stop_after="translate")
        return [n for n in result.notices if "asked for" in n]

    assert asked_for(3, "wd") == [
        "3 speakers asked for, 2 told apart: the missing ones' lines go to those found "
        "(mark their turns in speakers.json)"
    ]
    assert asked_for(2, "wd2") == []  # as many as asked: nothing to say
