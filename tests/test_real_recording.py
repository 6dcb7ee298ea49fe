"""Speakers on a real two-person recording: pyannote.audio's 30 s sample and its RTTM.

The sample (two women on a phone-like line, "speaker90" and "speaker91", with a few
interjections under 1 s and 1.9 s where both talk) comes out of the pyannote.audio
4.0.7 wheel (MIT licence); ``scripts/setup`` puts it in tests/data/external/.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lipdub.diarize import SpeakerTurn
from lipdub.diarize.score import diarization_error, read_rttm
from lipdub.types import AudioClip

SAMPLE = Path(__file__).parent / "data" / "external" / "pyannote_sample"


if not (SAMPLE / "sample.wav").is_file() or not (SAMPLE / "sample.rttm").is_file():
    pytest.skip(
        "no real two-speaker sample in tests/data/external (scripts/setup fetches it "
        "from the pyannote.audio wheel on PyPI)",
        allow_module_level=True,
    )
if importlib.util.find_spec("resemblyzer") is None or importlib.util.find_spec("librosa") is None:
    pytest.skip("resemblyzer is not installed (lipdub[speakers])", allow_module_level=True)

from lipdub.diarize.embedded import EmbeddedDiarizer  # noqa: E402
from lipdub.voice.clone_ref import pick_reference  # noqa: E402
from lipdub.voice.voiceprint import long_term_spectrum, spectrum_shape  # noqa: E402

SPEAKERS = ("speaker90", "speaker91")


def recording() -> tuple[AudioClip, list[SpeakerTurn]]:
    return AudioClip.load_wav(SAMPLE / "sample.wav"), read_rttm(SAMPLE / "sample.rttm")


def _talking(ref: list[SpeakerTurn], who: str, step: float = 0.01) -> np.ndarray:
    """Per 10 ms frame of the 30 s sample: whether the RTTM has ``who`` talking."""
    g = np.zeros(3001, bool)
    for t in ref:
        if t.speaker == who:
            g[round(t.start_s / step) : round(t.end_s / step)] = True
    return g


def _alone(audio: AudioClip, ref: list[SpeakerTurn], who: str) -> AudioClip:
    """The frames where only ``who`` talks, joined."""
    (other,) = [s for s in SPEAKERS if s != who]
    frames = np.flatnonzero(_talking(ref, who) & ~_talking(ref, other))
    return AudioClip(
        np.concatenate([audio.samples[i * 160 : (i + 1) * 160] for i in frames]), 16000
    )


def _own_share(spans: Any, ref: list[SpeakerTurn], who: str) -> float:
    """Of the seconds in ``spans`` where somebody talks (RTTM), the share ``who`` talks."""
    own, talk = _talking(ref, who), _talking(ref, SPEAKERS[0]) | _talking(ref, SPEAKERS[1])
    idx = np.concatenate([np.arange(round(a * 100), round(b * 100)) for a, b in spans])
    return float(own[idx].sum() / talk[idx].sum())


def _shape(audio: AudioClip) -> np.ndarray:
    """The long-term spectrum's shape (dB per band, mean removed): a timbre voiceprint."""
    return spectrum_shape(long_term_spectrum(audio)[1])


def _print(audio: AudioClip) -> np.ndarray:
    """The speaker encoder's mean embedding of a clip (a voiceprint)."""
    _, emb = EmbeddedDiarizer().embed(audio)
    v = emb.mean(axis=0)
    return np.asarray(v / np.linalg.norm(v))


@pytest.fixture(scope="module", params=[None, 2], ids=["auto", "two"])
def found(request: pytest.FixtureRequest) -> list[SpeakerTurn]:
    return EmbeddedDiarizer().diarize(recording()[0], num_speakers=request.param)


def test_the_reference_is_two_people_with_overlap() -> None:
    _, ref = recording()
    assert len(ref) == 10 and {t.speaker for t in ref} == set(SPEAKERS)
    both = (_talking(ref, SPEAKERS[0]) & _talking(ref, SPEAKERS[1])).sum() / 100
    assert both == pytest.approx(1.89, abs=0.02)


def test_finds_the_two_speakers_and_their_turns(found: list[SpeakerTurn]) -> None:
    _, ref = recording()
    assert len({t.speaker for t in found}) == 2
    # Overlap is scored as in NIST's DER: a frame with both talking counts twice in the
    # reference, so one speaker per frame misses 1.89 s (7.8 % of 24.35 s) by design.
    e = diarization_error(ref, found)
    assert set(e.mapping.values()) == set(SPEAKERS)
    # measured 15.3 %: missed 2.73 s, false alarm 0.15 s (Silero's 0.2 s padding),
    # confusion 0.85 s (14.4 % with the level threshold before #24)
    assert e.rate < 0.17
    assert e.confusion_s < 1.0 and e.false_alarm_s < 0.3
    # measured 5.3 % (4.2 % before #24)
    assert diarization_error(ref, found, collar_s=0.25).rate < 0.06
    assert len(found) >= 8  # the reference has 10 turns, several under a second


def test_one_real_voice_alone_is_one_speaker() -> None:
    audio, _ = recording()
    alone = audio.slice(21.9, 27.8)  # inside speaker91's long turn, nobody else talks
    turns = EmbeddedDiarizer().diarize(alone)
    assert turns and {t.speaker for t in turns} == {"S1"}  # the silhouette count found 3


def test_each_reference_is_cut_from_its_own_speakers_turns(found: list[SpeakerTurn]) -> None:
    audio, ref = recording()
    mapping = diarization_error(ref, found).mapping
    true_print = {who: _print(_alone(audio, ref, who)) for who in SPEAKERS}
    true_shape = {who: _shape(_alone(audio, ref, who)) for who in SPEAKERS}
    for label, who in mapping.items():
        (other,) = [s for s in SPEAKERS if s != who]
        r = pick_reference(audio, found, label)
        assert r.long_enough
        # measured 100 % for both (with the long windows' turns alone: 87.8 % and
        # 85.4 %, the other speaker's interjections under a second inside them)
        assert _own_share(r.spans, ref, who) > 0.95
        # its voiceprints are nearer its own speaker's true turns than the other's: the
        # speaker encoder's (cosine measured 0.981 vs 0.834 for speaker91, 0.983 vs
        # 0.829 for speaker90) and the long-term spectrum's (RMS difference of the
        # spectrum shapes 3.3 vs 4.9 dB, 3.7 vs 5.5 dB). Median pitch does not tell these
        # two apart: 194 and 186 Hz on their own turns, 181 and 182 Hz in the references.
        mine = _print(r.clip)
        assert mine @ true_print[who] > mine @ true_print[other] + 0.05
        shape = _shape(r.clip)
        own, theirs = (float(np.sqrt(np.mean((shape - true_shape[w]) ** 2))) for w in (who, other))
        assert own < theirs - 0.5, (label, own, theirs)


def test_cli_dub_clone_with_two_speakers_cuts_each_reference_from_its_own_speaker(
    tmp_path: Path,
) -> None:
    pytest.importorskip("espeakng_loader")
    from lipdub.cli import main
    from lipdub.diarize.speakers import SpeakerMap
    from lipdub.media.writer import mux_audio
    from lipdub.testing.media import make_test_video

    audio, ref = recording()
    silent = make_test_video(
        tmp_path / "silent.mp4", duration_s=audio.duration_s, fps=10, size=(160, 120), audio=False
    )
    talk = mux_audio(silent, audio, tmp_path / "talk.mp4")
    fakes = ["--transcriber", "fake", "--translator", "fake", "--detector", "fake"]
    args = ["dub", str(talk), "--to", "es", "--voice", "clone", "--speakers", "2", *fakes]
    assert main([*args, "--stop-after", "speak", "--offline", "-q"]) == 0
    wd = tmp_path / "talk.mp4.lipdub"
    found = SpeakerMap.load(wd / "speakers.json")
    assert sorted(p.name for p in (wd / "voices").iterdir()) == ["S1.wav", "S2.wav"]
    mapping = diarization_error(ref, list(found.turns)).mapping
    assert set(mapping) == {"S1", "S2"} and set(mapping.values()) == set(SPEAKERS)
    true_print = {who: _print(_alone(audio, ref, who)) for who in SPEAKERS}
    for label, who in mapping.items():
        (other,) = [s for s in SPEAKERS if s != who]
        mine = _print(AudioClip.load_wav(wd / "voices" / f"{label}.wav"))
        assert mine @ true_print[who] > mine @ true_print[other] + 0.05, label


def test_cli_dub_clone_splits_at_each_change_and_speaks_each_line_in_its_own_reference(
    tmp_path: Path,
) -> None:
    """Issue 24: ``dub --speakers 2 --voice clone`` with Whisper's word times (tiny.en)."""
    from conftest import tiny_en_model_dir

    from lipdub._hashing import clip_key, file_sha256
    from lipdub.cli import main
    from lipdub.diarize.speakers import SpeakerMap
    from lipdub.dub.timing import TimingReport
    from lipdub.media.writer import mux_audio
    from lipdub.testing.media import make_test_video
    from lipdub.types import Transcript
    from lipdub.voice.clone_ref import read_reference

    model = tiny_en_model_dir()
    audio, ref = recording()
    silent = make_test_video(
        tmp_path / "silent.mp4", duration_s=audio.duration_s, fps=10, size=(160, 120), audio=False
    )
    talk = mux_audio(silent, audio, tmp_path / "talk.mp4")
    heard = tmp_path / "heard.jsonl"
    args = [
        *("dub", str(talk), "--to", "es", "--from", "en", "--voice", "clone", "--speakers", "2"),
        *("--transcriber", "whisper", "--opt", f"transcriber.model={model}"),
        *("--translator", "identity", "--detector", "fake"),  # the source text, line by line
        *("--tts", "fake_clone", "--opt", f"voice.log={heard}"),  # records each line's clip
        # the fake clone sounds like no one: the quality check would retake lines without
        # the clone; this test follows the references the speak stage gives
        "--no-quality",
    ]
    assert main([*args, "--stop-after", "speak", "--offline", "-q"]) == 0
    wd = tmp_path / "talk.mp4.lipdub"
    turns = list(SpeakerMap.load(wd / "speakers.json").turns)
    source = Transcript.load(wd / "transcript.en.json")
    lines = Transcript.load(wd / "translation.es.json").segments
    # Split: more lines than the transcriber's segments, every line labelled, both voiced
    assert all(s.words for s in source.segments)  # word times, from Whisper
    assert len(lines) > len(source.segments)
    assert {s.speaker for s in lines} == {"S1", "S2"}
    # ... at the changes: every word is in a line of the speaker talking most during it
    # (speakers.json), and no word is lost or moved
    words = [w for s in source.segments for w in s.words if w.text.strip(" ,.?!")]
    tokens = [(t, s.speaker) for s in lines for t in s.text.split() if t.strip(",.?!")]
    assert [t for t, _ in tokens] == [w.text.strip() for w in words]
    for w, (_, who) in zip(words, tokens, strict=True):
        talk_s = {t.speaker: 0.0 for t in turns}
        for t in turns:
            talk_s[t.speaker] += max(0.0, min(w.end_s, t.end_s) - max(w.start_s, t.start_s))
        if max(talk_s.values()) > 0:
            assert who == max(talk_s, key=lambda k: talk_s[k]), (w, who, talk_s)
    # Without word times (a hand-written transcript), the split is guessed from the turns
    # alone: 67 of the 72 words go to the same speaker with the meeting diarizer's turns
    # (measured; 64 with the embedded diarizer's; sharing the words by count, before,
    # 58), and each such split is flagged (EstimatedSplit)
    from lipdub.diarize.assign import assign_speakers

    bare = Transcript("en", tuple(dataclasses.replace(s, words=()) for s in source.segments))
    guessed = assign_speakers(bare, turns)
    by_guess = [(t, s.speaker) for s in guessed.transcript.segments for t in s.text.split()]
    same = sum(
        a == b
        for a, b in zip(
            by_guess, [(t, s.speaker) for s in lines for t in s.text.split()], strict=True
        )
    )
    assert same / len(by_guess) >= 0.8
    assert guessed.estimated and {e.how for e in guessed.estimated} <= {"punctuation", "proportion"}
    # ... and on the real speakers: of the line-seconds where the RTTM has someone
    # talking, the line's own speaker talks in 98.8 % with the meeting diarizer's turns
    # (measured; 96.7 % with the embedded diarizer's; 61 % for the 2 segments unsplit,
    # each given its main speaker)
    mapping = diarization_error(ref, turns).mapping
    own = sum(
        _talking(ref, mapping[s.speaker])[round(s.start_s * 100) : round(s.end_s * 100)].sum()
        for s in lines
    )
    spoken = sum(
        (_talking(ref, SPEAKERS[0]) | _talking(ref, SPEAKERS[1]))[
            round(s.start_s * 100) : round(s.end_s * 100)
        ].sum()
        for s in lines
    )
    assert own / spoken > 0.85, own / spoken
    # Each line was spoken in its own speaker's reference clip: the voice's record, and
    # timing.es.json names the file and its sha256
    got = [json.loads(row) for row in heard.read_text().splitlines()]
    clip_of = {
        s: clip_key(read_reference(wd / "voices" / f"{s}.wav", sample_rate_hz=24000))
        for s in ("S1", "S2")
    }
    assert {r["text"]: r["reference"] for r in got} == {s.text: clip_of[s.speaker] for s in lines}
    timing = TimingReport.load(wd / "timing.es.json").segments
    assert [(t.speaker, t.reference, t.reference_sha256) for t in timing] == [
        (s.speaker, f"voices/{s.speaker}.wav", file_sha256(wd / "voices" / f"{s.speaker}.wav"))
        for s in lines
    ]
