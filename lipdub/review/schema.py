"""The review API's requests: one schema per route, checked before anything is done.

A request is refused with a :class:`RequestError` (a 4xx status, one line naming the
field, and a hint) when a field has the wrong type, is missing, is unknown, is a
non-finite number, or is too long. JSON bodies are parsed here too: ``NaN`` and
``Infinity`` are refused, and so is JSON nested too deeply to parse.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lipdub.errors import InputError, printable

__all__ = [
    "CANCEL",
    "LANGUAGE",
    "SAVE",
    "Int",
    "Names",
    "RequestError",
    "Schema",
    "Text",
    "check",
    "check_query",
    "has_controls",
    "parse_json",
    "run_schema",
]

#: A language tag as the work directory names its files (``es``, ``pt-BR``).
LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8}){0,3}")
_VERSION = re.compile(r"[0-9a-f]{64}")
# C0/C1 controls other than tab and newlines (those are folded to spaces), DEL, and
# the bidi overrides that make a line read differently from what it holds.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_HINT = "see docs/review.md for the review API"


def has_controls(text: str) -> bool:
    """Whether ``text`` holds control characters (tab and line breaks aside)."""
    return _CONTROL.search(text) is not None


class RequestError(InputError):
    """A request the API refuses: ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, *, status: int = 400, hint: str | None = _HINT) -> None:
        super().__init__(message, hint=hint)
        self.status = status

    def __reduce__(self) -> tuple[Any, ...]:  # keep ``status`` through pickling
        return (_rebuild, (self.message, self.status, self.hint))


def _rebuild(message: str, status: int, hint: str | None) -> RequestError:
    return RequestError(message, status=status, hint=hint)


@dataclass(frozen=True)
class Text:
    """A string field: at most ``max_len`` characters, optionally a pattern or a choice."""

    max_len: int
    pattern: re.Pattern[str] | None = None
    choices: frozenset[str] | None = None
    nullable: bool = False
    controls: bool = False  # control characters allowed


@dataclass(frozen=True)
class Int:
    """A whole number (not a boolean, not ``1.0``) in ``[lo, hi]``."""

    lo: int
    hi: int


@dataclass(frozen=True)
class Names:
    """A list of at most ``max_items`` strings, each one of ``choices``."""

    choices: frozenset[str]
    max_items: int = 16


FieldSpec = Text | Int | Names
#: Field name -> (spec, required).
Schema = Mapping[str, tuple[FieldSpec, bool]]


def _show(value: object) -> str:
    """A client's value, short and safe for a one-line message."""
    text = printable(
        json.dumps(value) if not isinstance(value, str) else repr(value), newlines=False
    )
    return text if len(text) <= 40 else text[:37] + "..."


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _check_text(name: str, spec: Text, value: object) -> str | None:
    if value is None and spec.nullable:
        return None
    if not isinstance(value, str):
        raise RequestError(f"{name}: must be a string, got {_json_type(value)}")
    if len(value) > spec.max_len:
        raise RequestError(f"{name}: at most {spec.max_len} characters, got {len(value)}")
    if not spec.controls and _CONTROL.search(value):
        raise RequestError(f"{name}: holds control characters")
    if _SURROGATE.search(value):
        raise RequestError(f"{name}: holds a lone surrogate (not Unicode text)")
    if spec.choices is not None and value not in spec.choices:
        raise RequestError(
            f"{name}: must be one of {', '.join(sorted(spec.choices))}, got {_show(value)}"
        )
    if spec.pattern is not None and not spec.pattern.fullmatch(value):
        raise RequestError(f"{name}: not a valid value: {_show(value)}")
    return value


def _check_int(name: str, spec: Int, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(
            f"{name}: must be a whole number, got {_json_type(value)} {_show(value)}"
        )
    if not spec.lo <= value <= spec.hi:
        raise RequestError(f"{name}: must be between {spec.lo} and {spec.hi}, got {_show(value)}")
    return value


def _check_names(name: str, spec: Names, value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise RequestError(f"{name}: must be a list of stage names, got {_json_type(value)}")
    if len(value) > spec.max_items:
        raise RequestError(f"{name}: at most {spec.max_items} names, got {len(value)}")
    out = []
    for k, item in enumerate(value):
        if not isinstance(item, str):
            raise RequestError(f"{name}[{k}]: must be a string, got {_json_type(item)}")
        if item not in spec.choices:
            raise RequestError(
                f"{name}[{k}]: no stage named {_show(item)}",
                hint=f"use one of {', '.join(sorted(spec.choices))}",
            )
        out.append(item)
    return tuple(out)


def check(schema: Schema, data: object, *, where: str = "the request body") -> dict[str, Any]:
    """``data`` checked against ``schema``: the known fields, typed.

    Raises:
        RequestError: ``data`` is not an object, or a field is missing, unknown, of the
            wrong type, out of range or too long.
    """
    if not isinstance(data, dict):
        raise RequestError(f"{where} must be a JSON object, got {_json_type(data)}")
    unknown = sorted(set(data) - set(schema))
    if unknown:
        raise RequestError(
            f"unknown field {_show(unknown[0])} in {where}",
            hint=f"known fields: {', '.join(schema) or 'none'}",
        )
    out: dict[str, Any] = {}
    for name, (spec, required) in schema.items():
        if name not in data:
            if required:
                raise RequestError(f"{name}: missing from {where}")
            continue
        value = data[name]
        if isinstance(spec, Text):
            out[name] = _check_text(name, spec, value)
        elif isinstance(spec, Int):
            out[name] = _check_int(name, spec, value)
        else:
            out[name] = _check_names(name, spec, value)
    return out


def check_query(schema: Schema, items: list[tuple[str, str]]) -> dict[str, Any]:
    """A query string's ``(name, value)`` pairs checked against ``schema`` (strings only).

    Raises:
        RequestError: a name given twice, unknown, or a value refused by its spec.
    """
    seen: dict[str, str] = {}
    for name, value in items:
        if name in seen:
            raise RequestError(f"query parameter {_show(name)} given twice")
        seen[name] = value
    return check(schema, seen, where="the query string")


def _refuse_constant(name: str) -> float:
    raise RequestError(f"{name} is not a finite number; JSON numbers must be finite")


def parse_json(body: bytes) -> object:
    """The JSON value of a request body (an empty body is ``{}``).

    Raises:
        RequestError: not UTF-8, not JSON, nested too deeply, or holding NaN/Infinity.
    """
    if not body.strip():
        return {}
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError("the request body is not UTF-8 text") from None
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise RequestError("the request body is JSON nested too deeply") from None
    except json.JSONDecodeError as e:
        raise RequestError(f"the request body is not JSON: {e.msg} at character {e.pos}") from None
    except ValueError as e:  # an integer of too many digits
        raise RequestError(
            f"the request body is not usable JSON: {printable(e, newlines=False)}"
        ) from None


def _stages() -> frozenset[str]:
    from lipdub.dub.stages import NAMES

    return frozenset(NAMES)


#: The most characters of one line's text, and of a speaker label.
MAX_TEXT = 5000
MAX_SPEAKER = 200
_LANG = Text(40, pattern=LANGUAGE)

SAVE: Schema = {
    "kind": (Text(8, choices=frozenset({"source", "target"})), True),
    "lang": (Text(40, pattern=LANGUAGE, nullable=True), False),
    "index": (Int(0, 1_000_000), True),
    "version": (Text(64, pattern=_VERSION), True),
    "text": (Text(MAX_TEXT), False),
    "speaker": (Text(MAX_SPEAKER), False),
}
CANCEL: Schema = {}


def run_schema() -> Schema:
    """``/api/speak`` and ``/api/finish``: the language, and stages to keep or redo."""
    names = Names(_stages())
    return {"lang": (_LANG, True), "keep": (names, False), "redo": (names, False)}
