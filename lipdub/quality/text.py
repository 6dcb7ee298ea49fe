"""How far a back-transcription is from the text a line should say: CER and WER.

Both sides are normalised the same way before they are compared
(:func:`normalize_text`): lower case, punctuation and symbols dropped, runs of spaces
collapsed, and, for English, whole numbers written out in words (so ``"4"`` and
``"four"`` agree; other languages keep their digits on both sides). Then

* **CER** (character error rate) is the Levenshtein distance between the two
  normalised strings, without spaces, divided by the length of the reference;
* **WER** (word error rate) is the same over words.

Both are 0 for a perfect match and may exceed 1 (a transcription much longer than the
text). An empty reference gives 0 when the hypothesis is empty too, else 1.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

__all__ = ["cer", "edit_distance", "normalize_text", "number_words", "wer"]

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"), (100, "hundred"))


def number_words(n: int) -> str:
    """``n`` (0 <= n < 10**12) in English words, without "and" or hyphens.

    Example:
        >>> number_words(4572), number_words(19), number_words(0)
        ('four thousand five hundred seventy two', 'nineteen', 'zero')
    """
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, rest = divmod(n, 10)
        return _TENS[tens] + (f" {_ONES[rest]}" if rest else "")
    for size, name in _SCALES:
        if n >= size:
            head, rest = divmod(n, size)
            return f"{number_words(head)} {name}" + (f" {number_words(rest)}" if rest else "")
    raise AssertionError("unreachable")  # pragma: no cover


_NUMBER = re.compile(r"\d+")
_DIGIT_GROUPS = re.compile(r"(?<=\d)[,.](?=\d{3}\b)")


def _english_numbers(text: str, *, by_digit: bool = False) -> str:
    text = _DIGIT_GROUPS.sub("", text)  # 4,572 -> 4572

    def spell(m: re.Match[str]) -> str:
        digits = m.group(0)
        if by_digit or len(digits) > 12:
            return " " + " ".join(_ONES[int(d)] for d in digits) + " "
        return f" {number_words(int(digits))} "

    return _NUMBER.sub(spell, text)


def normalize_text(text: str, language: str | None = None, *, by_digit: bool = False) -> str:
    """``text`` lower-cased, without punctuation, numbers in words for English.

    ``by_digit`` reads each digit alone (``457``: "four five seven") instead of the
    whole number ("four hundred fifty seven"): Whisper writes both as ``457``.

    Example:
        >>> normalize_text("Hello, World! It's 4 o'clock.", "en")
        'hello world its four oclock'
        >>> normalize_text("¿Cómo estás? 3 veces", "es")
        'cómo estás 3 veces'
    """
    text = unicodedata.normalize("NFKC", text).lower()
    if (language or "").split("-")[0].lower() == "en":
        text = _english_numbers(text, by_digit=by_digit)
    text = text.replace("'", "").replace("\u2019", "")  # it's -> its (both sides alike)
    kept = [
        ch if unicodedata.category(ch)[0] in "LNM" else " "  # letters, numbers, marks
        for ch in text
    ]
    return " ".join("".join(kept).split())


def edit_distance(a: Sequence[str], b: Sequence[str]) -> int:
    """Levenshtein distance (insertions, deletions, substitutions) between two sequences.

    Example:
        >>> edit_distance("kitten", "sitting"), edit_distance(["a", "b"], ["b"])
        (3, 1)
    """
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def _rate(reference: Sequence[str], hypothesis: Sequence[str]) -> float:
    if not reference:
        return 0.0 if not hypothesis else 1.0
    return edit_distance(reference, hypothesis) / len(reference)


def _hypotheses(hypothesis: str, language: str | None) -> list[str]:
    """The hypothesis normalised, its digits read as whole numbers and one by one."""
    whole = normalize_text(hypothesis, language)
    digits = normalize_text(hypothesis, language, by_digit=True)
    return [whole] if digits == whole else [whole, digits]


def cer(reference: str, hypothesis: str, language: str | None = None) -> float:
    """Character error rate of ``hypothesis`` against ``reference`` (both normalised).

    A number in the hypothesis counts as read whole or digit by digit, whichever is
    nearer the reference (Whisper writes "four five seven" as ``457``).

    Example:
        >>> cer("Four dogs.", "4 dogs", "en"), cer("It is four five seven.", "It is 457", "en")
        (0.0, 0.0)
        >>> round(cer("the cat sat", "the sat", "en"), 3)
        0.333
    """
    ref = normalize_text(reference, language).replace(" ", "")
    return min(_rate(ref, h.replace(" ", "")) for h in _hypotheses(hypothesis, language))


def wer(reference: str, hypothesis: str, language: str | None = None) -> float:
    """Word error rate of ``hypothesis`` against ``reference`` (both normalised).

    Example:
        >>> wer("The cat sat on the mat.", "the cat sat on mat", "en")
        0.16666666666666666
    """
    ref = normalize_text(reference, language).split()
    return min(_rate(ref, h.split()) for h in _hypotheses(hypothesis, language))
