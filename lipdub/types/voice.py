"""A voice a :class:`~lipdub.VoiceSynth` offers: :class:`Voice`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from lipdub.errors import InputError

__all__ = ["Gender", "Voice"]


Gender = Literal["female", "male", "neutral", "unknown"]


@dataclass(frozen=True, slots=True)
class Voice:
    """A voice a :class:`~lipdub.VoiceSynth` can speak with.

    Example:
        >>> v = Voice("es-ES-Neural2-A", ("es-ES",), "female", 24000, "Neural2", "google")
        >>> v.supports("es")
        True
    """

    name: str
    language_codes: tuple[str, ...]
    gender: Gender = "unknown"
    natural_sample_rate_hz: int | None = None
    family: str | None = None
    backend: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not self.name:
            raise InputError("Voice.name must not be empty")
        if not isinstance(self.language_codes, tuple):
            object.__setattr__(self, "language_codes", tuple(self.language_codes))

    def supports(self, language: str | None) -> bool:
        """Whether the voice speaks ``language``.

        ``"es"`` matches ``"es-ES"`` and the reverse; None matches every voice.
        """
        if language is None:
            return True
        want = language.lower()
        for code in self.language_codes:
            have = code.lower()
            if have == want or have.split("-")[0] == want or want.split("-")[0] == have:
                return True
        return False
