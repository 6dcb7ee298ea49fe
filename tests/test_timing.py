"""The timing fit: lines placed at their source times, never two at once (#12), never
faster than max_rate, and never dropped unheard (#26)."""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import random
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from lipdub.dub import FitOptions, subtitle_cues
from lipdub.dub.timing import (
    SegmentTiming,
    TimingReport,
    WavFolderCache,
    speak_transcript,
)
from lipdub.errors import Cancelled, InputError, TimingFitError
from lipdub.events import EventCallback, EventRecorder, Progress, StageWarning, with_cancel
from lipdub.testing import FakeVoiceSynth
from lipdub.types import AudioClip, Segment, Transcript, Voice
from lipdub.voice.base import VoiceSynth

SPW = 0.3  # FakeVoiceSynth: seconds per word at rate 1


def words(n: int, tag: str = "w") -> str:
    """``n`` distinct words: ``n * 0.3`` s of fake speech."""
    return " ".join(f"{tag}{k}" for k in range(n))


class CountingVoice(VoiceSynth):
    """The fake tone voice, recording every batch and every utterance it speaks."""

    name: ClassVar[str] = "counting"
    native_rate: ClassVar[bool] = True

    def __init__(self, seconds_per_word: float = SPW) -> None:
        self.inner = FakeVoiceSynth(seconds_per_word)
        self.batches: list[tuple[tuple[str, ...], str | None, float]] = []
        self.spoken: list[tuple[str, str | None, float]] = []
        self.outside_batches = 0
        self._in_batch = False

    def settings(self) -> dict[str, Any]:
        return {"seconds_per_word": self.inner.seconds_per_word}

    def synthesize(
        self,
        text: str,
        *,
        voice: str | None = None,
        language: str | None = None,
        rate: float = 1.0,
    ) -> AudioClip:
        self.outside_batches += not self._in_batch
        self.spoken.append((text, voice, rate))
        return self.inner.synthesize(text, voice=voice, language=language, rate=rate)

    def synthesize_many(
        self,
        texts: Sequence[str],
        *,
        voice: str | None = None,
        language: str | None = None,
        rate: float = 1.0,
        on_event: EventCallback | None = None,
    ) -> list[AudioClip]:
        self.batches.append((tuple(texts), voice, rate))
        self._in_batch = True
        try:
            return super().synthesize_many(
                texts, voice=voice, language=language, rate=rate, on_event=on_event
            )
        finally:
            self._in_batch = False

    def list_voices(self, language: str | None = None) -> list[Voice]:
        return self.inner.list_voices(language)


def sounding_runs(track: AudioClip, min_gap_s: float = 0.03) -> list[tuple[int, int]]:
    """Sample ranges ``[a, b)`` where the track is not silent, split at >= min_gap_s of zeros."""
    nz = np.flatnonzero(track.samples != 0)
    if nz.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(nz) > round(min_gap_s * track.sample_rate_hz))
    starts = np.concatenate([[nz[0]], nz[breaks + 1]])
    ends = np.concatenate([nz[breaks], [nz[-1]]]) + 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def assert_one_line_at_a_time(track: AudioClip, report: TimingReport, pause_s: float) -> None:
    """Placed spans are apart, and every sound in the track belongs to exactly one line."""
    spoken = [s for s in report.segments if s.speech_s > 0]
    spans = report.speech_spans
    assert spans == [(s.start_s, s.end_s) for s in spoken]
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end + pause_s - 1e-6
    rate = track.sample_rate_hz
    ranges = [(round(a * rate), round(b * rate)) for a, b in spans]
    for (_, b), (a, _) in itertools.pairwise(ranges):
        assert b <= a  # the lines' sample ranges do not intersect
    if pause_s < 0.05:  # lines may touch: the sample ranges above are the check
        return
    runs = sounding_runs(track)
    assert len(runs) == len(ranges)  # two lines sounding together would merge into one run
    for (ra, rb), (a, b) in zip(runs, ranges, strict=True):
        assert a - 1 <= ra < rb <= b + 1


def test_a_translation_three_times_too_long_is_refused_or_cut_never_sped_past_max_rate() -> None:
    t = Transcript(
        "es",
        (
            Segment(0.0, 2.0, words(20)),  # 6 s of speech for a 2 s slot
            Segment(2.3, 3.5, words(4, "b")),
            Segment(4.0, 5.0, words(3, "c")),
            Segment(8.0, 9.0, words(3, "d")),
        ),
    )
    with pytest.raises(TimingFitError, match=r"^1 line is too long for its time") as caught:
        speak_transcript(FakeVoiceSynth(), t, total_s=10.0, sample_rate_hz=48000)
    assert caught.value.lines == (0,) and "\n" not in str(caught.value)
    assert "--allow-truncation" in str(caught.value) and "--max-rate" in str(caught.value)

    track, report = speak_transcript(
        FakeVoiceSynth(), t, total_s=10.0, sample_rate_hz=48000, allow_truncation=True
    )
    first, second, third, fourth = report.segments
    assert first.natural_s == pytest.approx(6.0, abs=0.05)
    assert first.speed == pytest.approx(1.2, abs=0.005)  # the one ceiling
    # cut where the next line must start: its source start + max_delay_s, less the pause
    assert first.status == "cut" and first.end_s == pytest.approx(3.2, abs=1e-3)
    assert first.cut_s == pytest.approx(5.0 - 3.2, abs=0.01)
    assert any("too long for its time" in w for w in first.warnings)
    assert second.start_s == pytest.approx(first.end_s + 0.1, abs=1e-4)  # moved, not overlapped
    assert second.status == "delayed" and second.delay_s == pytest.approx(1.0, abs=1e-3)
    assert third.status == "delayed" and 0 < third.delay_s < 1.0
    assert fourth.start_s == 8.0 and fourth.status == "ok"  # back on time after the gap
    assert report.cut == report.unfitted == [first] and report.max_rate == 1.2
    assert all(row.speed <= 1.2 + 1e-3 for row in report.segments)
    assert track.duration_s == pytest.approx(10.0)
    assert_one_line_at_a_time(track, report, pause_s=0.1)


def test_random_transcripts_never_overlap_never_go_past_max_rate_and_every_line_is_heard() -> None:
    rng = random.Random(12)
    refused = 0
    for _ in range(12):
        segs, t0 = [], 0.0
        for k in range(6):
            t0 += rng.uniform(0.0, 1.0)
            slot = rng.uniform(0.2, 2.0)
            segs.append(
                Segment(round(t0, 3), round(t0 + slot, 3), words(rng.randint(1, 12), f"{k}"))
            )
            t0 += slot
        total = t0 + rng.uniform(0.0, 1.0)
        options = FitOptions(min_pause_s=rng.choice([0.0, 0.1, 0.25]))
        t = Transcript("es", tuple(segs))
        track, report = speak_transcript(
            FakeVoiceSynth(), t, total_s=total, options=options, allow_truncation=True
        )
        assert_one_line_at_a_time(track, report, pause_s=options.min_pause_s)
        for row, seg in zip(report.segments, segs, strict=True):
            assert row.start_s >= seg.start_s - options.max_lead_s - 1e-6
            assert row.source_start_s == seg.start_s
            assert row.delay_s <= options.max_delay_s + 1e-3
            assert row.speech_s > 0 and row.start_s < total  # heard, at least in part
            assert row.end_s <= total + 1 / 24000
            assert row.speed <= options.max_rate + 1e-3
            assert (row.cut_s > 0) == (row.status == "cut")
        if report.cut:
            refused += 1
            with pytest.raises(TimingFitError):
                speak_transcript(FakeVoiceSynth(), t, total_s=total, options=options)
    assert 0 < refused < 12  # the draws include both kinds


def test_delayed_lines_return_to_their_source_start_once_a_gap_absorbs_the_delay() -> None:
    t = Transcript(
        "es",
        (
            Segment(0.0, 1.0, words(6)),  # 1.8 s natural: 1.5 s at 1.2x, past its window
            Segment(1.4, 2.0, words(2, "b")),
            Segment(5.0, 6.0, words(3, "c")),
        ),
    )
    _, report = speak_transcript(FakeVoiceSynth(), t, total_s=7.0)
    a, b, c = report.segments
    assert a.speed == pytest.approx(1.2, abs=0.005) and a.status == "ok"
    # its window ends where the next line may start early (0.15 s), less the pause
    assert a.budget_s == pytest.approx(1.15, abs=1e-6)
    assert a.overflow_s == pytest.approx(a.end_s - 1.15, abs=1e-3)
    assert b.start_s == pytest.approx(a.end_s + 0.1, abs=1e-4)
    assert b.source_start_s == 1.4 and b.delay_s == pytest.approx(b.start_s - 1.4)
    assert b.status == "delayed" and b.warnings
    assert (c.start_s, c.delay_s, c.status, c.warnings) == (5.0, 0.0, "ok", ())

    # With no delay allowed, the next line keeps its time and the long one is too long.
    strict = FitOptions(max_delay_s=0)
    with pytest.raises(TimingFitError):
        speak_transcript(FakeVoiceSynth(), t, total_s=7.0, options=strict)
    _, cut = speak_transcript(
        FakeVoiceSynth(), t, total_s=7.0, options=strict, allow_truncation=True
    )
    a, b, _ = cut.segments
    assert a.status == "cut" and a.speed == pytest.approx(1.2, abs=0.005)
    assert a.end_s == pytest.approx(1.3, abs=1e-3) and b.start_s == 1.4 and b.status == "ok"


def test_speech_spans_and_subtitles_follow_the_placed_times() -> None:
    t = Transcript("es", (Segment(0.0, 1.0, words(6)), Segment(1.4, 2.0, words(2, "b"))))
    _, report = speak_transcript(FakeVoiceSynth(), t)
    a, b = report.segments
    assert report.speech_spans == [(a.start_s, a.end_s), (b.start_s, b.end_s)]
    assert b.start_s > b.source_start_s
    cues = subtitle_cues(t, report)
    assert cues.segments[1].start_s == pytest.approx(b.start_s, abs=1e-3)


def test_max_rate_is_the_one_ceiling_and_a_line_borrows_the_silence_before_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    easy = Transcript("es", (Segment(0.0, 1.0, words(4)), Segment(2.0, 3.0, words(3, "b"))))
    with caplog.at_level(logging.WARNING, logger="lipdub.dub.timing"):
        _, report = speak_transcript(FakeVoiceSynth(), easy, total_s=4.0)
    assert report.cut == [] and not caplog.records
    assert [s.status for s in report.segments] == ["ok", "ok"]
    assert report.segments[0].speed == pytest.approx(1.2, abs=0.005)  # fills its slot

    # 0.9 s of speech in a 0.5 s slot that ends 0.1 s before the media: at 1.2x it
    # starts 0.15 s early, in the silence before it
    t = Transcript("es", (Segment(0.0, 1.0, words(2)), Segment(2.0, 2.5, words(3, "b"))))
    _, report = speak_transcript(FakeVoiceSynth(), t, total_s=2.6)
    line = report.segments[1]
    assert line.status == "ok" and line.speed == pytest.approx(1.2, abs=0.005)
    assert line.delay_s == pytest.approx(-0.15, abs=1e-3)
    assert line.end_s == pytest.approx(2.6, abs=1e-3)
    assert line.borrowed_s == pytest.approx(0.25, abs=1e-3)
    assert line.budget_s == pytest.approx(2.6 - 1.55, abs=1e-6)
    # without the silence before it, the same line is too long
    with pytest.raises(TimingFitError):
        speak_transcript(FakeVoiceSynth(), t, total_s=2.6, options=FitOptions(max_lead_s=0))

    # A raised max_rate is used, and still never passed.
    fast = FitOptions(max_rate=1.5)
    tight = Transcript("es", (Segment(0.0, 1.0, words(5)),))
    _, report = speak_transcript(FakeVoiceSynth(), tight, total_s=1.1, options=fast)
    (line,) = report.segments
    assert line.status == "ok" and line.speed == pytest.approx(1.5, abs=0.005)  # fills its slot
    assert line.end_s == pytest.approx(1.0, abs=1e-3) and report.max_rate == 1.5


def test_what_cannot_fit_is_refused_or_cut_with_a_fade_and_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    t = Transcript(
        "es",
        (
            Segment(0.0, 1.0, words(3)),
            Segment(2.0, 2.5, words(10, "b")),  # 3 s of speech, 1.95 s to the end
        ),
    )
    with pytest.raises(TimingFitError, match="2 \\('b0 b1"):
        speak_transcript(FakeVoiceSynth(), t, total_s=3.5)
    rec = EventRecorder()
    with caplog.at_level(logging.WARNING, logger="lipdub.dub.timing"):
        track, report = speak_transcript(
            FakeVoiceSynth(), t, total_s=3.5, allow_truncation=True, on_event=rec
        )
    ok, last = report.segments
    assert ok.status == "ok"
    assert last.status == "cut" and last.speed == pytest.approx(1.2, abs=0.005)
    assert last.start_s == pytest.approx(1.55, abs=1e-3)  # all the silence before it too
    assert last.cut_s == pytest.approx(3.0 / 1.2 - 1.95, abs=0.01)
    assert last.end_s == pytest.approx(3.5, abs=1e-3)
    assert any("too long for its time" in w for w in last.warnings)
    assert any("too long" in r.getMessage() for r in caplog.records)
    (warning,) = rec.of_type(StageWarning)
    assert warning.stage == "speak" and "too long" in warning.message  # type: ignore[attr-defined]
    assert report.unfitted == [last] and report.overflowing == [last]
    assert track.duration_s == pytest.approx(3.5)
    tail = track.samples[-round(0.005 * track.sample_rate_hz) :]  # the last tenth of the fade
    assert float(np.max(np.abs(tail))) < 0.11 * float(np.max(np.abs(track.samples)))
    assert_one_line_at_a_time(track, report, pause_s=0.1)

    # Crowded lines at the end of the media: each is cut, none starts after the end.
    t2 = Transcript("es", (Segment(0.0, 0.5, words(12)), Segment(0.6, 1.0, words(2, "b"))))
    track, report = speak_transcript(FakeVoiceSynth(), t2, total_s=1.0, allow_truncation=True)
    first, second = report.segments
    assert first.status == second.status == "cut"
    assert second.start_s < 1.0 and second.speech_s == pytest.approx(0.2, abs=1e-3)
    assert len(report.speech_spans) == 2


def test_report_saves_loads_and_reads_the_old_format(tmp_path: Path) -> None:
    t = Transcript("es", (Segment(0.0, 1.0, words(6)), Segment(1.4, 2.0, words(2, "b"))))
    _, report = speak_transcript(FakeVoiceSynth(), t)
    back = TimingReport.load(report.save(tmp_path / "timing.json"))
    assert [(s.start_s, s.source_start_s, s.status, s.warnings) for s in back.segments] == [
        (round(s.start_s, 4), s.source_start_s, s.status, s.warnings) for s in report.segments
    ]
    row = json.loads((tmp_path / "timing.json").read_text())["segments"][1]
    assert row["delay_s"] > 0 and row["status"] == "delayed" and row["warnings"]
    table = report.describe()
    assert "delayed" in table and "! starts" in table

    old = {  # what lipdub wrote before lines were placed apart
        "segments": [
            {"index": 0, "text": "uno", "start_s": 0.5, "slot_s": 1.0, "max_s": 1.5,
             "natural_s": 0.3, "speech_s": 0.35, "rate": 0.85, "stretch": 1.0,
             "borrowed_s": 0.0, "overflow_s": 0.0, "voice": None, "speaker": None,
             "overflow_ms": 0},
            {"index": 1, "text": "a b c d e f g", "start_s": 2.0, "slot_s": 0.5, "max_s": 0.9,
             "natural_s": 2.1, "speech_s": 1.6, "rate": 1.3, "stretch": 1.0,
             "borrowed_s": 0.4, "overflow_s": 0.7, "voice": "v", "speaker": "A",
             "overflow_ms": 700},
        ],
        "overflowing": 1,
    }  # fmt: skip
    (tmp_path / "old.json").write_text(json.dumps(old))
    first, second = TimingReport.load(tmp_path / "old.json").segments
    assert (first.source_start_s, first.delay_s, first.status) == (0.5, 0, "ok")
    assert (second.source_start_s, second.status, second.warnings) == (2.0, "late", ())
    assert second.voice == "v" and second.overflow_s == 0.7 and second.cut_s == 0

    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InputError, match="timing report"):
        TimingReport.load(tmp_path / "bad.json")


def test_voices_are_called_in_batches_by_voice_then_by_rate() -> None:
    t = Transcript(
        "es",
        (
            Segment(0.0, 1.0, words(3, "a"), speaker="A"),  # fits at ~0.9x
            Segment(1.5, 2.0, words(3, "b"), speaker="B"),  # needs 1.8x: 1.2x, the ceiling
            Segment(3.0, 3.5, words(3, "c"), speaker="A"),  # needs 1.8x: 1.2x, the ceiling
            Segment(4.0, 5.0, words(3, "a"), speaker="A"),  # the same as line 0
            Segment(6.0, 7.0, "   "),  # nothing to say
        ),
    )
    voice = CountingVoice()
    rec = EventRecorder()
    _, report = speak_transcript(voice, t, voice_map={"A": "va", "B": "vb"}, on_event=rec)
    assert voice.outside_batches == 0  # always through synthesize_many
    natural = [b for b in voice.batches if b[2] == 1.0]
    assert natural == [
        ((words(3, "a"), words(3, "c")), "va", 1.0),  # repeated texts spoken once
        ((words(3, "b"),), "vb", 1.0),
    ]
    assert voice.batches[: len(natural)] == natural  # the natural pass comes first
    by_rate = voice.batches[len(natural) :]
    assert sorted((b[1], b[2]) for b in by_rate) == [("va", 0.9), ("va", 1.2), ("vb", 1.2)]
    assert dict((b[2], b[0]) for b in by_rate if b[1] == "va")[0.9] == (words(3, "a"),)
    assert [s.rate for s in report.segments] == [0.9, 1.2, 1.2, 0.9, 1.0]
    assert report.segments[4].status == "empty"

    progress = rec.of_type(Progress)
    assert progress and all(e.stage == "speak" and e.unit == "segments" for e in progress)
    done = [e.done for e in progress]  # type: ignore[attr-defined]
    assert done == sorted(done) and done[-1] == progress[-1].total  # type: ignore[attr-defined]


def test_cache_hits_skip_synthesis_and_damaged_entries_are_misses(tmp_path: Path) -> None:
    t = Transcript(
        "es",
        (Segment(0.0, 1.0, words(3)), Segment(1.5, 2.0, words(3, "b")), Segment(3.0, 3.4, "x")),
    )
    cache = WavFolderCache(tmp_path / "speech")
    first = CountingVoice()
    track1, report1 = speak_transcript(first, t, total_s=4.0, cache=cache)
    files = sorted((tmp_path / "speech").glob("*.wav"))
    assert len(files) == len(first.spoken) == 6  # three natural, three at a native rate

    again = CountingVoice()
    track2, report2 = speak_transcript(
        again, t, total_s=4.0, cache=WavFolderCache(tmp_path / "speech")
    )
    assert again.batches == [] and again.spoken == []
    assert report2 == report1
    np.testing.assert_allclose(track2.samples, track1.samples, atol=2e-4)  # 16-bit WAVs

    files[0].write_bytes(b"RIFF but not really")
    third = CountingVoice()
    speak_transcript(third, t, total_s=4.0, cache=cache)
    assert len(third.spoken) == 1
    assert AudioClip.load_wav(files[0]).num_samples > 0  # rewritten

    other = CountingVoice(seconds_per_word=0.25)  # other settings: other keys
    speak_transcript(other, t, total_s=4.0, cache=cache)
    assert len(other.spoken) >= 3


def test_a_cache_key_is_a_plain_file_name(tmp_path: Path) -> None:
    cache = WavFolderCache(tmp_path)
    with pytest.raises(InputError):
        cache.get("../outside")


def test_cancelling_from_the_event_callback_stops_the_speech() -> None:
    stop = threading.Event()
    seen: list[object] = []

    def note(event: object) -> None:
        seen.append(event)
        stop.set()  # the user presses "cancel" at the first progress

    t = Transcript("es", tuple(Segment(2.0 * k, 2.0 * k + 1.0, words(3, f"{k}")) for k in range(5)))
    voice = CountingVoice()
    with pytest.raises(Cancelled):
        speak_transcript(voice, t, on_event=with_cancel(note, stop))
    assert len(seen) == 1 and len(voice.spoken) == 2  # stopped inside the first batch


def test_fit_options_validate_the_rates_and_delays() -> None:
    assert FitOptions().max_rate == 1.2
    with pytest.raises(InputError, match="max_rate"):
        FitOptions(max_rate=0.9)
    with pytest.raises(InputError, match="max_rate"):
        FitOptions(max_rate=5.0)
    FitOptions(max_rate=2.0)
    with pytest.raises(InputError, match="max_delay_s"):
        FitOptions(max_delay_s=-1)
    with pytest.raises(InputError, match="max_lead_s"):
        FitOptions(max_lead_s=-0.1)
    with pytest.raises(InputError, match="min_pause_s"):
        FitOptions(min_pause_s=float("nan"))
    assert "hard_max_rate" not in {f.name for f in dataclasses.fields(FitOptions)}


def test_segment_timing_defaults_describe_an_on_time_line() -> None:
    row = SegmentTiming(0, "hola", 1.0, 1.0, 1.0, 0.5, 0.5, 1.0, 1.0, 0.0, 0.0, source_start_s=1.0)
    assert (row.delay_s, row.speed, row.status, row.cut_s, row.warnings) == (
        0.0,
        1.0,
        "ok",
        0.0,
        (),
    )
