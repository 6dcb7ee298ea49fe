"""How lipdub's cloud backends retry: :class:`RetryPolicy`, bounded exponential backoff.

The Google backends (:class:`~lipdub.transcribe.google.GoogleTranscriber`,
:class:`~lipdub.translate.google.GoogleTranslator` and
:class:`~lipdub.voice.google.GoogleVoiceSynth`) take a ``retry=RetryPolicy(...)``
constructor argument; this module holds it, free of any cloud dependency, so that
configuring retries needs no ``lipdub[google]`` import.

Example:
    >>> from lipdub.retry import RetryPolicy
    >>> RetryPolicy(max_attempts=3, timeout_s=30).max_attempts
    3
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from lipdub.errors import InputError

__all__ = ["RetryPolicy"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter for transient cloud-service errors.

    Attempt ``k`` (0-based) that fails transiently waits
    ``min(max_delay_s, initial_delay_s * multiplier**k)`` scaled by a random factor in
    ``[1 - jitter, 1]``, then tries again, at most ``max_attempts`` attempts in all.

    Args:
        max_attempts: Total attempts including the first (>= 1).
        initial_delay_s: Wait after the first failure, in seconds.
        max_delay_s: Cap on one wait, in seconds.
        multiplier: Growth factor of the wait per attempt.
        jitter: Fraction of each wait that is randomised (0 = none, 1 = full jitter).
        timeout_s: Per-request deadline sent to the service, in seconds (None: the
            client library's default).

    Example:
        >>> p = RetryPolicy(initial_delay_s=1.0, max_delay_s=5.0, jitter=0.0)
        >>> [p.delay_s(k) for k in range(4)]
        [1.0, 2.0, 4.0, 5.0]
    """

    max_attempts: int = 5
    initial_delay_s: float = 0.5
    max_delay_s: float = 16.0
    multiplier: float = 2.0
    jitter: float = 0.5
    timeout_s: float | None = 120.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise InputError(f"RetryPolicy.max_attempts must be >= 1, got {self.max_attempts}")
        if self.initial_delay_s < 0 or self.max_delay_s < 0:
            raise InputError("RetryPolicy delays must be >= 0")
        if not 0.0 <= self.jitter <= 1.0:
            raise InputError(f"RetryPolicy.jitter must be in [0, 1], got {self.jitter}")

    def delay_s(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt ``attempt`` (0-based)."""
        base = min(self.max_delay_s, self.initial_delay_s * self.multiplier**attempt)
        if self.jitter:
            r = (rng or random).random()
            base *= 1.0 - self.jitter * r
        return base
