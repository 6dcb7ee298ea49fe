"""What is measured of one dubbed line, and the bounds that decide whether it passes.

A :class:`LineQuality` has three parts, each value a number or None with the reason
it is None (never a guess):

* :class:`Intelligibility`: the CER and WER of a Whisper back-transcription of the
  line against its text;
* :class:`SpeakerMatch`: the cosine between the speaker embedding of the line and
  that of its speaker's reference clip, and of every other speaker's clip;
* :class:`LineTiming`: the speed it was spoken at, its delay from the source line,
  whether it was cut at the end of the media.

It is written per line into ``timing.<lang>.json`` (key ``quality``), with the
verdict (``"ok"`` or ``"review"``), the problems found and the retry, if any.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from lipdub.errors import InputError

__all__ = [
    "Intelligibility",
    "LineQuality",
    "LineTiming",
    "QualityOptions",
    "Retry",
    "SpeakerMatch",
    "Verdict",
]

Verdict = Literal["ok", "review", "unchecked"]
"""``ok``: every available check passed; ``review``: a check failed (after the one
retry); ``unchecked``: the checks were switched off."""


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class QualityOptions:
    """The quality checks of a dub, and when a line fails them.

    Args:
        check: Run the checks (False: every line's ``quality`` says they were off).
        model: The Whisper model that back-transcribes the lines: a size name, a
            local CTranslate2 model folder, or ``"auto"``: the dub's own transcriber
            when it is Whisper. Models are never downloaded for the check (use
            ``lipdub weights download``); a size that is not cached makes the CER None
            with the reason (and a notice). A folder that does not exist or holds no
            model, or a name that is neither a size nor a folder, is refused here.
        max_cer: A line whose CER is above this fails (default 0.23: the threshold that
            best separated clean lines from lines missing every third word, espeak-ng
            and Piper saying Harvard sentences back-transcribed by ``tiny.en``; on other
            sentences it flagged 0 % of clean Piper lines, 45-50 % of clean espeak-ng
            lines (``tiny.en`` mishears that voice) and missed 10-15 % of faulty lines;
            ``benchmarks/RESULTS.md``).
        similarity_margin: A cloned line fails when its similarity to its own speaker
            is not above its similarity to another speaker by this much.
        retry: Speak a failing line once more another way (slower, or without the
            clone) and keep the better take.
        retry_speed: The total speed of a retake spoken slower (0.9: 10 % slower than
            the voice's natural speed).

    Raises:
        InputError: a bound out of range, or a ``model`` that can never be loaded (a
            folder that does not exist or holds no ``model.bin``): refused before any
            work, naming the folder.

    Example:
        >>> QualityOptions(model="tiny.en").model
        'tiny.en'
        >>> try:
        ...     QualityOptions(model="/no/such/folder")
        ... except InputError as e:
        ...     print(e.message)
        --quality-model /no/such/folder: no such folder
    """

    check: bool = True
    model: str = "auto"
    max_cer: float = 0.23
    similarity_margin: float = 0.0
    retry: bool = True
    retry_speed: float = 0.9

    def __post_init__(self) -> None:
        if not isinstance(self.model, str):
            raise InputError(
                f"QualityOptions.model takes a str, got {type(self.model).__name__}",
                hint='"auto", a Whisper size such as "tiny.en", or a model folder',
            )
        if self.model != "auto":
            from lipdub.transcribe.whisper import check_model

            check_model(self.model, what="--quality-model")
        if not 0.0 <= self.max_cer <= 10.0:
            raise InputError(f"QualityOptions needs 0 <= max_cer <= 10, got {self.max_cer}")
        if not -2.0 <= self.similarity_margin <= 2.0:
            raise InputError(
                f"QualityOptions needs -2 <= similarity_margin <= 2, got {self.similarity_margin}"
            )
        if not 0.5 <= self.retry_speed <= 1.0:
            raise InputError(
                f"QualityOptions needs 0.5 <= retry_speed <= 1, got {self.retry_speed}"
            )


@dataclass(frozen=True, slots=True)
class Intelligibility:
    """A back-transcription of the line and its error rates (None: ``reason`` says why)."""

    cer: float | None
    wer: float | None
    heard: str | None = None
    model: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "cer": None if self.cer is None else round(self.cer, 4),
            "wer": None if self.wer is None else round(self.wer, 4),
            "heard": self.heard,
            "model": self.model,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Intelligibility:
        cer, wer, reason = _num(d.get("cer")), _num(d.get("wer")), _text(d.get("reason"))
        if cer is None and reason is None:
            reason = "not measured"
        return cls(cer, wer, _text(d.get("heard")), _text(d.get("model")), reason)


@dataclass(frozen=True, slots=True)
class SpeakerMatch:
    """Cosine similarities of the line's speaker embedding to the reference clips.

    ``own`` is to the line's speaker's clip, ``others`` to each other speaker's;
    ``closest`` the speaker whose clip is most similar (None: ``reason`` says why).
    """

    own: float | None
    others: Mapping[str, float] = field(default_factory=dict)
    closest: str | None = None
    reason: str | None = None

    @property
    def margin(self) -> float | None:
        """``own`` less the best of ``others`` (None without both)."""
        if self.own is None or not self.others:
            return None
        return self.own - max(self.others.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "own": None if self.own is None else round(self.own, 4),
            "others": {k: round(v, 4) for k, v in self.others.items()},
            "closest": self.closest,
            "margin": None if self.margin is None else round(self.margin, 4),
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SpeakerMatch:
        raw = d.get("others")
        others = (
            {str(k): float(v) for k, v in raw.items() if _num(v) is not None}
            if isinstance(raw, dict)
            else {}
        )
        own, reason = _num(d.get("own")), _text(d.get("reason"))
        if own is None and reason is None:
            reason = "not measured"
        return cls(own, others, _text(d.get("closest")), reason)


@dataclass(frozen=True, slots=True)
class LineTiming:
    """How the line was fitted: total speed, delay from its source start, cut or not."""

    speed: float
    delay_s: float
    cut: bool

    def to_dict(self) -> dict[str, Any]:
        return {"speed": round(self.speed, 4), "delay_s": round(self.delay_s, 4), "cut": self.cut}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LineTiming:
        return cls(_num(d.get("speed")) or 1.0, _num(d.get("delay_s")) or 0.0, d.get("cut") is True)


@dataclass(frozen=True, slots=True)
class Retry:
    """The one retry of a failing line: how it was spoken again and which take was kept.

    ``first`` holds the measures of the take that was *not* kept (the other take's
    are the line's own).
    """

    way: str
    kept: Literal["first", "retake"]
    other_cer: float | None = None
    other_similarity: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "way": self.way,
            "kept": self.kept,
            "other_cer": None if self.other_cer is None else round(self.other_cer, 4),
            "other_similarity": None
            if self.other_similarity is None
            else round(self.other_similarity, 4),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Retry:
        kept: Literal["first", "retake"] = "retake" if d.get("kept") == "retake" else "first"
        return cls(
            str(d.get("way", "")), kept, _num(d.get("other_cer")), _num(d.get("other_similarity"))
        )


@dataclass(frozen=True, slots=True)
class LineQuality:
    """Everything measured of one dubbed line (see the module docstring)."""

    intelligibility: Intelligibility
    speaker: SpeakerMatch
    timing: LineTiming
    verdict: Verdict = "ok"
    problems: tuple[str, ...] = ()
    retry: Retry | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (numbers rounded to 4 decimals)."""
        return {
            "verdict": self.verdict,
            "problems": list(self.problems),
            "intelligibility": self.intelligibility.to_dict(),
            "speaker": self.speaker.to_dict(),
            "timing": self.timing.to_dict(),
            "retry": None if self.retry is None else self.retry.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LineQuality:
        """Read :meth:`to_dict`'s output (a work-directory file: untrusted, lenient).

        Raises:
            InputError: ``d`` is not a mapping of the three parts.
        """
        parts = [d.get(k) for k in ("intelligibility", "speaker", "timing")]
        if not all(isinstance(p, dict) for p in parts):
            raise InputError("a line's quality record needs intelligibility, speaker and timing")
        verdict = d.get("verdict")
        retry = d.get("retry")
        problems = d.get("problems")
        return cls(
            Intelligibility.from_dict(parts[0]),  # type: ignore[arg-type]
            SpeakerMatch.from_dict(parts[1]),  # type: ignore[arg-type]
            LineTiming.from_dict(parts[2]),  # type: ignore[arg-type]
            verdict if verdict in ("ok", "review", "unchecked") else "review",
            tuple(str(p) for p in problems) if isinstance(problems, list) else (),
            Retry.from_dict(retry) if isinstance(retry, dict) else None,
        )

    def judged(self, options: QualityOptions) -> LineQuality:
        """This record with its verdict and problems set by ``options``' bounds."""
        from dataclasses import replace

        problems = []
        cer = self.intelligibility.cer
        if cer is not None and cer > options.max_cer:
            problems.append(f"CER {cer:.2f} above {options.max_cer:.2f}")
        margin = self.speaker.margin
        if margin is not None and margin <= options.similarity_margin:
            problems.append(
                f"sounds closer to speaker {self.speaker.closest} than to its own "
                f"(similarity {self.speaker.own:.2f} vs {max(self.speaker.others.values()):.2f})"
            )
        return replace(self, verdict="review" if problems else "ok", problems=tuple(problems))

    def badness(self) -> tuple[int, float, float]:
        """Sort key, lower is better: problems, CER, then minus the similarity margin."""
        return (
            len(self.problems),
            self.intelligibility.cer if self.intelligibility.cer is not None else 0.0,
            -(self.speaker.margin or 0.0),
        )
