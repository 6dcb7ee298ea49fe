"""lipdub.text: the one sentence splitter (OPUS-MT, espeak-ng and segmenting use it)."""

from __future__ import annotations

import pytest

from lipdub.text import ends_sentence, split_sentences


def test_split_sentences_keeps_abbreviations() -> None:
    assert split_sentences("Dr. Smith is here. ¿Y tú? ¡Bien!") == [
        "Dr. Smith is here.",
        "¿Y tú?",
        "¡Bien!",
    ]
    assert split_sentences("no end mark") == ["no end mark"]
    assert split_sentences("  ") == []


def test_spanish_opening_marks_stay_with_their_sentence() -> None:
    text = "¿Dónde está la Sra. García? ¡Allí! Vale."
    assert split_sentences(text) == ["¿Dónde está la Sra. García?", "¡Allí!", "Vale."]


def test_initials_numbers_and_ellipses() -> None:
    assert split_sentences("J. R. R. Tolkien wrote 3.5 books... Really?") == [
        "J. R. R. Tolkien wrote 3.5 books...",
        "Really?",
    ]


def test_closing_quotes_and_brackets_end_with_the_sentence() -> None:
    assert split_sentences('He said "stop." (Then he left.) Fin') == [
        'He said "stop."',
        "(Then he left.)",
        "Fin",
    ]


def test_cjk_and_arabic_marks_split_at_whitespace_only() -> None:
    assert split_sentences("今日は晴れ。 明日は雨！ 本当？") == [
        "今日は晴れ。",
        "明日は雨！",
        "本当？",
    ]
    # Written without spaces, CJK text stays one piece (the split is at whitespace).
    assert split_sentences("今日は晴れ。明日は雨。") == ["今日は晴れ。明日は雨。"]
    assert split_sentences("كيف حالك؟ بخير.") == ["كيف حالك؟", "بخير."]


def test_whitespace_is_normalised_and_nothing_is_lost() -> None:
    text = "  One.\n\nTwo  three!\tFour  "
    parts = split_sentences(text)
    assert parts == ["One.", "Two three!", "Four"]
    assert " ".join(parts).split() == text.split()


@pytest.mark.parametrize(
    ("word", "ends"),
    [
        ("there.", True),
        ("done!!", True),
        ("why?»", True),
        ("e.g.", False),
        ("Mr.", False),
        ("Dra.", False),
        ("J.", False),
        ("3.5", False),
        ("word", False),
        ("", False),
    ],
)
def test_ends_sentence(word: str, ends: bool) -> None:
    assert ends_sentence(word) is ends
