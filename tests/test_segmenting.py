"""words_to_segments: timed words -> segments at sentence ends, pauses, speakers, max length."""

from __future__ import annotations

import pytest

from lipdub.errors import InputError
from lipdub.transcribe._segment import ends_sentence, join_words, words_to_segments
from lipdub.types import Word


def _words(spec: str, start: float = 0.0, dur: float = 0.3, gap: float = 0.1) -> list[Word]:
    out = []
    t = start
    for token in spec.split():
        out.append(Word(round(t, 6), round(t + dur, 6), token))
        t += dur + gap
    return out


def test_empty_input_gives_no_segments() -> None:
    assert words_to_segments([]) == []
    assert words_to_segments([Word(0, 1, "  ")]) == []


def test_splits_after_sentence_ends_and_keeps_times() -> None:
    words = _words("Hello there. How are you? Fine!")
    segs = words_to_segments(words)
    assert [s.text for s in segs] == ["Hello there.", "How are you?", "Fine!"]
    assert segs[0].start_s == 0.0 and segs[0].end_s == pytest.approx(0.7)
    assert segs[1].start_s == pytest.approx(0.8) and segs[1].end_s == pytest.approx(1.9)
    assert [len(s.words) for s in segs] == [2, 3, 1]


def test_abbreviations_and_initials_do_not_end_sentences() -> None:
    segs = words_to_segments(_words("Ask Dr. Smith and J. Doe e.g. today."))
    assert [s.text for s in segs] == ["Ask Dr. Smith and J. Doe e.g. today."]
    assert ends_sentence('said."') and ends_sentence("¿qué?") and ends_sentence("終わり。")
    assert not ends_sentence("3.5") and not ends_sentence("word")


def test_splits_at_pauses() -> None:
    words = _words("one two") + _words("three four", start=2.0)
    segs = words_to_segments(words, pause_s=0.7)
    assert [s.text for s in segs] == ["one two", "three four"]
    # a gap shorter than pause_s keeps them together
    assert len(words_to_segments(words, pause_s=2.0)) == 1


def test_long_run_is_bounded_and_cut_after_a_comma() -> None:
    # 40 words at 0.4 s each = 16 s of speech with no sentence end and no pause
    tokens = [f"w{i}," if i == 14 else f"w{i}" for i in range(40)]
    words = _words(" ".join(tokens))
    segs = words_to_segments(words, max_segment_s=8.0, pause_s=5.0)
    assert all(s.duration_s <= 8.0 for s in segs)
    assert len(segs) == 3
    assert segs[0].text.endswith("w14,")  # the clause mark is preferred over a blind cut
    # every word lands in exactly one segment, in order
    assert [w for s in segs for w in s.words] == words


def test_long_run_cut_prefers_the_widest_gap() -> None:
    words = _words("a b c d e") + _words("f g h i j", start=2.25)  # 0.25 s gap before f
    segs = words_to_segments(words, max_segment_s=3.0, pause_s=1.0)
    assert [s.text for s in segs] == ["a b c d e", "f g h i j"]


def test_single_word_longer_than_max_is_its_own_segment() -> None:
    words = [Word(0, 0.5, "a"), Word(0.6, 20.0, "loooong"), Word(20.1, 20.4, "b")]
    segs = words_to_segments(words, max_segment_s=5.0)
    assert [s.text for s in segs] == ["a", "loooong", "b"]


def test_speaker_changes_split_and_label_segments() -> None:
    words = _words("hi there how are you")
    speakers = {0.0: "1", 0.4: "1", 0.8: "2", 1.2: "2", 1.6: "1"}
    segs = words_to_segments(words, speaker_of=lambda w: speakers[round(w.start_s, 1)])
    assert [(s.text, s.speaker) for s in segs] == [
        ("hi there", "1"),
        ("how are", "2"),
        ("you", "1"),
    ]


def test_join_handles_leading_spaces_punctuation_and_cjk() -> None:
    ws = [Word(0, 1, " Hello"), Word(1, 2, ","), Word(2, 3, " world"), Word(3, 4, "!")]
    assert join_words(ws) == "Hello, world!"
    segs = words_to_segments(_words("今日 は 晴れ。"), joiner="")
    assert segs[0].text == "今日は晴れ。"


def test_unsorted_input_is_ordered() -> None:
    words = _words("a b c")
    segs = words_to_segments(list(reversed(words)))
    assert segs[0].words == tuple(words)


@pytest.mark.parametrize("kwargs", [{"max_segment_s": 0}, {"pause_s": -1}])
def test_bad_limits_raise(kwargs: dict[str, float]) -> None:
    with pytest.raises(InputError):
        words_to_segments(_words("a b"), **kwargs)
