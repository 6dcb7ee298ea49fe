"""Argument checks for the public entry points: a wrong type is an :class:`InputError`.

The SDK's entry points (:meth:`DubbingPipeline.run <lipdub.dub.pipeline.DubbingPipeline.run>`,
:func:`~lipdub.distributed.dub_many`, :func:`~lipdub.eval.evaluate_video`,
:func:`~lipdub.lipsync.lipsync`...) call these first, before any file is opened or
written, so that ``run(None, "es")`` or ``on_event=42`` is one
:class:`~lipdub.errors.InputError` naming the argument, never a ``TypeError`` or an
``AttributeError`` from deep inside a stage (and never a half-made work directory).

Each check returns the value (normalised where that is free: a path becomes a
:class:`~pathlib.Path`) so that a caller can write ``p = path_arg(p, "input")``.

Example:
    >>> path_arg("talk.mp4", "input")
    PosixPath('talk.mp4')
    >>> try:
    ...     callable_arg(42, "on_event")
    ... except InputError as e:
    ...     print(e)
    on_event must be a function taking an event, or None; got int 42
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

from lipdub.errors import InputError, printable

__all__ = [
    "bool_arg",
    "callable_arg",
    "cancel_arg",
    "describe",
    "fps_arg",
    "instance_arg",
    "int_arg",
    "names_arg",
    "number_arg",
    "optional_path_arg",
    "path_arg",
    "str_arg",
]


def describe(value: object) -> str:
    """``value`` for an error message: its type and a short, printable repr.

    Example:
        >>> describe(None), describe(42), len(describe("x" * 100))
        ('None', 'int 42', 64)
    """
    if value is None:
        return "None"
    try:
        text = repr(value)
    except Exception:  # a repr that raises must not hide the real error
        text = "<unprintable>"
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {printable(text, newlines=False)}"


def _fail(name: str, what: str, value: object, hint: str | None = None) -> InputError:
    return InputError(f"{name} must be {what}; got {describe(value)}", hint=hint)


def path_arg(value: object, name: str) -> Path:
    """``value`` as a :class:`Path`; it must be a ``str`` or ``os.PathLike`` (not empty)."""
    if isinstance(value, (str, os.PathLike)):
        raw = os.fspath(value)
        if isinstance(raw, str) and raw.strip() and "\x00" not in raw:
            return Path(raw)
    raise _fail(name, "a file path (str or pathlib.Path)", value)


def optional_path_arg(value: object, name: str) -> Path | None:
    """Like :func:`path_arg`, with None allowed (and returned)."""
    return None if value is None else path_arg(value, name)


def str_arg(value: object, name: str, *, optional: bool = False, empty: bool = True) -> str | None:
    """``value`` if it is a ``str`` (None too when ``optional``; not blank unless ``empty``)."""
    if value is None and optional:
        return None
    if isinstance(value, str) and (empty or value.strip()):
        return value
    what = "a non-empty string" if not empty else "a string"
    raise _fail(name, what + (" or None" if optional else ""), value)


def bool_arg(value: object, name: str) -> bool:
    """``value`` if it is a ``bool`` (``0``/``1`` and strings are refused: ``"no"`` is truthy)."""
    if isinstance(value, bool):
        return value
    raise _fail(name, "True or False", value)


def int_arg(
    value: object,
    name: str,
    *,
    low: int | None = None,
    high: int | None = None,
    optional: bool = False,
) -> int | None:
    """``value`` as an ``int`` within ``[low, high]`` (None allowed when ``optional``)."""
    if value is None and optional:
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        n = int(value)
        if (low is None or n >= low) and (high is None or n <= high):
            return n
    bounds = _bounds(low, high)
    raise _fail(name, f"a whole number{bounds}" + (" or None" if optional else ""), value)


def number_arg(
    value: object,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    optional: bool = False,
) -> float | None:
    """``value`` as a finite ``float`` within ``[low, high]`` (None when ``optional``)."""
    if value is None and optional:
        return None
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        x = float(value)
        if math.isfinite(x) and (low is None or x >= low) and (high is None or x <= high):
            return x
    bounds = _bounds(low, high)
    raise _fail(name, f"a finite number{bounds}" + (" or None" if optional else ""), value)


def _bounds(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f" from {low:g} to {high:g}"
    if low is not None:
        return f" >= {low:g}"
    if high is not None:
        return f" <= {high:g}"
    return ""


def fps_arg(value: object, name: str = "fps") -> Fraction:
    """A frame rate: a positive, finite ``Fraction``, ``int`` or ``float``, as a ``Fraction``.

    Example:
        >>> fps_arg(29.97)
        Fraction(2997, 100)
    """
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        x = float(value)
        if math.isfinite(x) and x > 0:
            exact = Fraction(value) if isinstance(value, numbers.Rational) else Fraction(x)
            return exact.limit_denominator(1_000_000)
    raise _fail(name, "a frame rate > 0 (e.g. 25 or Fraction(30000, 1001))", value)


def callable_arg(value: object, name: str, *, what: str = "a function taking an event") -> None:
    """``value`` must be callable or None (``on_event=42`` fails here, not at the first event)."""
    if value is not None and not callable(value):
        raise _fail(name, f"{what}, or None", value)


def cancel_arg(value: object, name: str = "cancel") -> None:
    """``value`` must be None or have an ``is_set()`` method (a :class:`threading.Event`)."""
    if value is None or callable(getattr(value, "is_set", None)):
        return
    raise _fail(
        name,
        "None or an object with is_set() (a threading.Event)",
        value,
        hint="pass threading.Event() and call .set() on it to cancel",
    )


def names_arg(value: object, name: str) -> tuple[str, ...]:
    """A list or tuple of strings; a bare string is refused (``"translate"`` is not a list)."""
    if isinstance(value, (str, bytes)):
        raise _fail(name, "a list of names", value, hint=f"write {name}=[{value!r}]")
    if isinstance(value, Iterable) and not isinstance(value, dict):
        items = tuple(value)
        if all(isinstance(v, str) for v in items):
            return items
        bad = next(v for v in items if not isinstance(v, str))
        raise _fail(f"every item of {name}", "a string", bad)
    raise _fail(name, "a list of names", value)


def instance_arg(value: object, name: str, types: type | tuple[type, ...], what: str) -> None:
    """``value`` must be an instance of ``types`` (described as ``what`` in the error)."""
    if not isinstance(value, types):
        raise _fail(name, what, value)
