"""Sentence boundaries in plain text, shared by every backend that works sentence-wise.

Transcription segments cut after words that end a sentence
(:mod:`lipdub.transcribe._segment`), the OPUS-MT translator translates one sentence at a
time (:mod:`lipdub.translate.opus`), espeak-ng speaks one at a time
(:mod:`lipdub.voice.espeak`) and Google Text-to-Speech chunks long inputs at sentence
marks (:mod:`lipdub.voice.google`); all of them use the rules here.

A word ends a sentence when it ends in one of :data:`SENTENCE_MARKS` (``.``, ``!``,
``?``, ``…``, the CJK full-width ``。！？`` and the Arabic ``؟``), optionally followed by
closing quotes or brackets, unless it is a common abbreviation (``"Dr."``, ``"e.g."``,
Spanish ``"Sra."``; the list is :data:`ABBREVIATIONS`) or a lone initial (``"J."``).
Opening marks such as Spanish ``¿`` and ``¡`` stay with the sentence they open.
"""

from __future__ import annotations

import re

__all__ = [
    "ABBREVIATIONS",
    "SENTENCE_MARKS",
    "ends_sentence",
    "guess_encoding",
    "split_sentences",
]

#: Characters that end a sentence (Latin, CJK full-width, Arabic question mark).
SENTENCE_MARKS = ".!?…。！？؟"
#: Lower-case words with a final period that do not end a sentence.
ABBREVIATIONS = frozenset(
    {
        "mr.", "mrs.", "ms.", "dr.", "prof.", "st.", "sr.", "jr.", "vs.", "etc.",
        "e.g.", "i.e.", "sra.", "dra.", "srta.", "hr.", "fr.", "mme.",
    }
)  # fmt: skip

_CLOSERS = "\"'”’»)]"
_SENTENCE_END = re.compile(f"[{re.escape(SENTENCE_MARKS)}]+[{re.escape(_CLOSERS)}]*$")


def ends_sentence(text: str) -> bool:
    """Whether a word ends a sentence (``"there."`` yes, ``"Dr."``/``"e.g."`` no).

    Example:
        >>> ends_sentence("done!"), ends_sentence("Mr."), ends_sentence("3.5")
        (True, False, False)
        >>> ends_sentence('said."'), ends_sentence("¿qué?"), ends_sentence("終わり。")
        (True, True, True)
    """
    t = text.strip()
    if not t or not _SENTENCE_END.search(t):
        return False
    bare = t.lower().rstrip(_CLOSERS)
    if bare in ABBREVIATIONS:
        return False
    # A lone initial ("J.") is more often a name than a sentence end.
    return not re.fullmatch(r"[a-z]\.", bare)


def split_sentences(text: str) -> list[str]:
    """Split ``text`` after the words that end a sentence (see :func:`ends_sentence`).

    Text is cut at whitespace only, and runs of whitespace (newlines included) become one
    space; so a sentence mark inside a word (``"3.5"``, or CJK text written without
    spaces) does not split it. Blank text gives no sentences.

    Example:
        >>> split_sentences("Hola. ¿Cómo estás? ¡Bien, gracias!")
        ['Hola.', '¿Cómo estás?', '¡Bien, gracias!']
        >>> split_sentences("Dr. Smith, e.g. J. Doe, paid 3.5 euros.  Then\\nleft")
        ['Dr. Smith, e.g. J. Doe, paid 3.5 euros.', 'Then left']
        >>> split_sentences("今日は晴れ。 明日は雨。"), split_sentences("  ")
        (['今日は晴れ。', '明日は雨。'], [])
    """
    sentences: list[str] = []
    current: list[str] = []
    for token in text.split():
        current.append(token)
        if ends_sentence(token):
            sentences.append(" ".join(current))
            current = []
    if current:
        sentences.append(" ".join(current))
    return sentences


_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32", "little-endian"),
    (b"\x00\x00\xfe\xff", "UTF-32", "big-endian"),
    (b"\xff\xfe", "UTF-16", "little-endian"),
    (b"\xfe\xff", "UTF-16", "big-endian"),
)


def guess_encoding(data: bytes, *, sniff: int = 256) -> tuple[str, str | None] | None:
    """The likely non-UTF-8 encoding of some text: ``(name, byte order)`` from a
    byte-order mark, ``("UTF-16 or UTF-32", None)`` when the first ``sniff`` bytes are
    full of NUL bytes, else None.

    Example:
        >>> guess_encoding("{}".encode("utf-16"))
        ('UTF-16', 'little-endian')
        >>> guess_encoding(b"{}") is None
        True
    """
    for bom, name, order in _BOMS:
        if data.startswith(bom):
            return name, order
    head = data[:sniff]
    if len(head) >= 4 and head.count(0) >= len(head) // 4:
        return "UTF-16 or UTF-32", None
    return None
