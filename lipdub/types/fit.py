"""What a length-aware translator is told about time: :class:`SpeechLength` (how long a
voice takes to say a text), :class:`LineBudget` (how long one line may last) and
:class:`FitRequest` (all the lines' budgets for one target voice)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from lipdub.errors import InputError

__all__ = ["FitRequest", "LineBudget", "SpeechLength"]

_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class SpeechLength:
    """How long a voice takes to say a text at rate 1.0: ``overhead_s + per_unit_s * units``.

    ``unit`` says what is counted: ``"char"`` (characters, runs of white space counted as
    one) or ``"phoneme"`` (phonemes, where a phonemizer is available). ``voice`` names
    the voice the numbers were measured on.

    Example:
        >>> length = SpeechLength("espeak:en", "char", per_unit_s=0.07, overhead_s=0.1)
        >>> round(length.seconds("Hello there."), 3)
        0.94
        >>> length.chars_in(0.94)
        12
    """

    voice: str
    unit: Literal["char", "phoneme"] = "char"
    per_unit_s: float = 1 / 14
    overhead_s: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.per_unit_s) and self.per_unit_s > 0):
            raise InputError(f"SpeechLength.per_unit_s must be > 0, got {self.per_unit_s}")
        if not (math.isfinite(self.overhead_s) and self.overhead_s >= 0):
            raise InputError(f"SpeechLength.overhead_s must be >= 0, got {self.overhead_s}")

    def units(self, text: str) -> int:
        """How many units ``text`` counts (characters in the base class)."""
        return len(_SPACE.sub(" ", text.strip()))

    def seconds(self, text: str) -> float:
        """Predicted seconds to say ``text`` at rate 1.0 (0 for empty text)."""
        n = self.units(text)
        return 0.0 if n == 0 else self.overhead_s + self.per_unit_s * n

    def chars_in(self, seconds: float) -> int:
        """About how many characters this voice says in ``seconds`` at rate 1.0."""
        return max(0, int((seconds - self.overhead_s) / self.per_unit_s + 1e-9))


@dataclass(frozen=True, slots=True)
class LineBudget:
    """How long one translated line may last when spoken.

    Attributes:
        slot_s: The source line's own duration.
        seconds: The time the line may take: its slot plus the silences the timing fit
            may borrow.
        chars: About how many characters the target voice says in ``seconds`` at rate
            1.0 (None when no predictor is known).
    """

    slot_s: float
    seconds: float
    chars: int | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.seconds) and 0 <= self.slot_s <= self.seconds + 1e-9):
            raise InputError(
                f"LineBudget needs 0 <= slot_s <= seconds, got {self.slot_s}, {self.seconds}"
            )


@dataclass(frozen=True, slots=True)
class FitRequest:
    """The budgets of every line of one translation, for a length-aware translator.

    Attributes:
        budgets: One budget per source line, in order.
        length: The predictor of the voice that will speak the translation.
        max_rate: The fastest speed the timing fit will use.
        speakers: Each line's speaker label (None where unknown), in order.

    Example:
        >>> fit = FitRequest((LineBudget(1.0, 1.5),), SpeechLength("v", per_unit_s=0.1))
        >>> fit.fits(0, "short"), fit.fits(0, "a much longer line than that")
        (True, False)
    """

    budgets: tuple[LineBudget, ...]
    length: SpeechLength
    max_rate: float = 1.2
    speakers: tuple[str | None, ...] = ()

    def __post_init__(self) -> None:
        if self.speakers and len(self.speakers) != len(self.budgets):
            raise InputError(
                f"FitRequest: {len(self.speakers)} speakers for {len(self.budgets)} budgets"
            )

    def ratio(self, index: int, text: str) -> float:
        """Predicted length of ``text`` at rate 1.0 over line ``index``'s budget."""
        budget = self.budgets[index].seconds
        need = self.length.seconds(text)
        return need / budget if budget > 0 else (math.inf if need > 0 else 0.0)

    def fits(self, index: int, text: str, *, rate: float = 1.0) -> bool:
        """Whether ``text`` spoken at ``rate`` is predicted to fit line ``index``'s budget."""
        return self.ratio(index, text) <= rate + 1e-9
