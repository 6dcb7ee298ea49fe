"""The transcript split at every speaker change and every segment labelled
(lipdub.diarize.assign), with and without the transcriber's word times."""

from __future__ import annotations

from lipdub.diarize import SpeakerTurn, assign_speakers
from lipdub.types import Segment, Transcript, Word

# A phone call: S1 7.63-8.33, S2 8.35-8.97, S1 8.99-12.0 (the turns of issue 24's report).
CALL = [SpeakerTurn(7.63, 8.33, "S1"), SpeakerTurn(8.35, 8.97, "S2"), SpeakerTurn(8.99, 12.0, "S1")]


def _words(*spec: tuple[float, float, str]) -> tuple[Word, ...]:
    return tuple(Word(a, b, t) for a, b, t in spec)


def _rows(tr: Transcript) -> list[tuple[float, float, str | None, str]]:
    return [(s.start_s, s.end_s, s.speaker, s.text) for s in tr.segments]


def test_a_segment_with_word_times_is_split_between_words_at_each_change() -> None:
    words = _words(
        (7.38, 7.8, " Hello?"),
        (7.9, 8.3, " Hello."),
        (8.4, 8.6, " Oh,"),
        (8.6, 8.9, " hi!"),
        (9.1, 9.5, " I"),
        (9.5, 9.9, " didn't"),
        (9.9, 10.4, " know."),
    )
    tr = Transcript(
        "en", (Segment(7.3, 10.5, "Hello? Hello. Oh, hi! I didn't know.", words=words),)
    )
    out = assign_speakers(tr, CALL)
    assert _rows(out.transcript) == [
        (7.3, 8.3, "S1", "Hello? Hello."),
        (8.4, 8.9, "S2", "Oh, hi!"),
        (9.1, 10.5, "S1", "I didn't know."),
    ]
    assert [len(s.words) for s in out.transcript.segments] == [2, 2, 3]
    assert out.origin == (0, 0, 0)
    assert out.estimated == ()  # word times: nothing guessed


def test_a_word_in_a_pause_goes_to_the_nearest_turn_and_every_segment_gets_a_speaker() -> None:
    turns = [SpeakerTurn(0.0, 1.0, "S1"), SpeakerTurn(3.0, 4.0, "S2")]
    words = _words((0.2, 0.8, "one"), (1.1, 1.4, "two"), (2.6, 2.9, "three"), (3.2, 3.8, "four"))
    tr = Transcript(
        "en",
        (
            Segment(0.2, 3.8, "one two three four", words=words),
            Segment(4.2, 4.2, ""),  # blank: labelled, not split
            Segment(5.0, 6.0, "after"),  # no turn overlaps it: the nearest (S2)
        ),
    )
    out = assign_speakers(tr, turns)
    assert _rows(out.transcript) == [
        (0.2, 1.4, "S1", "one two"),
        (2.6, 3.8, "S2", "three four"),
        (4.2, 4.2, "S2", ""),
        (5.0, 6.0, "S2", "after"),
    ]
    assert out.origin == (0, 0, 1, 2)
    assert all(s.speaker for s in out.transcript.segments)


def test_without_word_times_the_text_is_cut_at_the_punctuation_nearest_the_change() -> None:
    tr = Transcript(
        "en", (Segment(7.4, 12.0, "Hello, hello. Oh hi. I did not know you were there."),)
    )
    out = assign_speakers(tr, CALL)
    # time cut in the middle of each pause between turns: 8.34 and 8.98
    assert _rows(out.transcript) == [
        (7.4, 8.34, "S1", "Hello, hello."),
        (8.34, 8.98, "S2", "Oh hi."),
        (8.98, 12.0, "S1", "I did not know you were there."),
    ]
    (note,) = out.estimated
    assert (note.index, note.cuts_s, note.how) == (0, (8.34, 8.98), "punctuation")
    assert note.describe() == (
        "segment 0 (7.40-12.00 s, no word times) split at 8.34, 8.98 s, its text at punctuation"
    )


def test_without_word_times_or_punctuation_the_text_is_cut_in_proportion() -> None:
    turns = [SpeakerTurn(0.0, 3.0, "S1"), SpeakerTurn(3.0, 4.0, "S2")]
    tr = Transcript("en", (Segment(0.0, 4.0, "aa bb cc dd ee ff gg hh"),))
    out = assign_speakers(tr, turns)
    assert _rows(out.transcript) == [
        (0.0, 3.0, "S1", "aa bb cc dd ee ff"),  # 3/4 of the time, 3/4 of the characters
        (3.0, 4.0, "S2", "gg hh"),
    ]
    assert out.estimated[0].how == "proportion"


def test_a_far_punctuation_mark_does_not_pull_the_cut() -> None:
    turns = [SpeakerTurn(0.0, 2.0, "S1"), SpeakerTurn(2.0, 4.0, "S2")]
    tr = Transcript("en", (Segment(0.0, 4.0, "Yes. one two three four five six seven"),))
    out = assign_speakers(tr, turns)
    assert [s.text for s in out.transcript.segments] == [
        "Yes. one two three",
        "four five six seven",
    ]
    assert out.estimated[0].how == "proportion"


def test_one_word_across_a_change_goes_whole_to_the_longer_speaker_and_is_flagged() -> None:
    turns = [SpeakerTurn(0.0, 0.3, "S1"), SpeakerTurn(0.3, 1.0, "S2")]
    out = assign_speakers(Transcript("en", (Segment(0.0, 1.0, "Hello."),)), turns)
    assert _rows(out.transcript) == [(0.0, 1.0, "S2", "Hello.")]
    assert out.estimated[0].how == "undivided"
    assert "one word: not split" in out.estimated[0].describe()


def test_more_speakers_than_words_gives_the_words_to_the_longest_parts() -> None:
    turns = [SpeakerTurn(0.0, 2.0, "S1"), SpeakerTurn(2.0, 2.2, "S2"), SpeakerTurn(2.2, 4.0, "S3")]
    out = assign_speakers(Transcript("en", (Segment(0.0, 4.0, "yes no"),)), turns)
    assert [(s.speaker, s.text) for s in out.transcript.segments] == [("S1", "yes"), ("S3", "no")]


def test_a_speaker_a_person_wrote_in_the_transcript_is_kept() -> None:
    tr = Transcript("en", (Segment(7.4, 12.0, "all mine", speaker="S2"),))
    assert _rows(assign_speakers(tr, CALL).transcript) == [(7.4, 12.0, "S2", "all mine")]
    # a label that is not one of the turns' (a recogniser's own) is replaced
    tr = Transcript("en", (Segment(9.0, 12.0, "all mine", speaker="speaker_1"),))
    assert _rows(assign_speakers(tr, CALL).transcript) == [(9.0, 12.0, "S1", "all mine")]


def test_without_turns_segments_keep_what_they_had() -> None:
    tr = Transcript("en", (Segment(0.0, 1.0, "a b"), Segment(1.0, 2.0, "c", speaker="X")))
    out = assign_speakers(tr, [])
    assert out.transcript == tr and out.estimated == ()


def test_words_of_a_language_without_spaces_join_without_them() -> None:
    turns = [SpeakerTurn(0.0, 1.0, "S1"), SpeakerTurn(1.0, 2.0, "S2")]
    words = _words((0.1, 0.5, "もし"), (0.5, 0.9, "もし"), (1.1, 1.5, "はい"), (1.5, 1.9, "。"))
    tr = Transcript("ja", (Segment(0.1, 1.9, "もしもしはい。", words=words),))
    assert [s.text for s in assign_speakers(tr, turns).transcript.segments] == [
        "もしもし",
        "はい。",
    ]
