"""A callable's parameter annotations as runtime checks of plain values.

The command line turns ``--opt KEY=VALUE`` into JSON values (numbers, ``true``/``false``,
``null``, lists, objects) or text, then passes them to a backend's constructor. This module
checks such a value against the parameter's declared type *before* the constructor runs,
so ``--opt diarizer.max_distance=abc`` is refused at once instead of failing mid-dub.

Only the shapes a plain value can take are checked: ``int``, ``float`` (an int is fine),
``bool`` (never a number, and no number is a bool), ``str``, ``None``, ``Literal[...]``,
paths (``Path``, ``os.PathLike``: text is fine), lists (``list``, ``tuple``, ``Sequence``),
mappings (``dict``, ``Mapping``) and unions of these. Any other annotation (``Any``, a
class such as ``RetryPolicy``, a protocol, a callable, a type variable) is *not checked*:
a value for it passes, and the constructor has the last word.

Annotations are resolved lazily, in the backend module's own namespace; nothing is
imported. A name that only exists for type checkers (``torch.device`` under
``TYPE_CHECKING``) leaves that one parameter unchecked.

Example:
    >>> from typing import Literal
    >>> def make(ratio: float = 0.5, mode: Literal["a", "b"] | None = None) -> None: ...
    >>> hints = parameter_hints(make)
    >>> mismatch(hints["ratio"], "abc")
    'a number'
    >>> mismatch(hints["ratio"], 2) is None
    True
    >>> mismatch(hints["mode"], "c")
    "one of 'a', 'b' or null"
"""

from __future__ import annotations

import collections.abc
import inspect
import os
import pathlib
import types
import typing
from collections.abc import Callable
from typing import Any

__all__ = ["mismatch", "parameter_hints"]

_UNIONS = (typing.Union, types.UnionType)
_LISTS = (list, tuple, collections.abc.Sequence, collections.abc.MutableSequence)
_MAPPINGS = (dict, collections.abc.Mapping, collections.abc.MutableMapping)


def _function_of(target: Any) -> Any:
    """The function whose parameters a call of ``target`` fills (a class: its ``__init__``)."""
    if inspect.isclass(target):
        return target.__init__
    return target


def parameter_hints(target: Callable[..., Any]) -> dict[str, Any]:
    """The resolved annotation of each parameter of ``target`` that has one.

    Args:
        target: A function, a method (bound or not) or a class (its ``__init__``).

    Returns:
        Parameter name -> annotation object. A parameter whose annotation cannot be
        resolved without importing something (or at all) is left out: it is not checked.
    """
    fn = _function_of(target)
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # one unresolvable name spoils the lot: resolve them one by one
        hints = _one_by_one(fn)
    hints.pop("return", None)
    return hints


def _one_by_one(fn: Any) -> dict[str, Any]:
    raw = getattr(fn, "__annotations__", None)
    if not isinstance(raw, dict):
        return {}
    namespace = dict(getattr(inspect.unwrap(fn), "__globals__", {}))
    out: dict[str, Any] = {}
    for name, annotation in raw.items():
        if not isinstance(annotation, str):
            out[name] = annotation
            continue
        try:
            # the backend's own annotation text, evaluated in its module's namespace, as
            # typing.get_type_hints does
            out[name] = eval(annotation, namespace)
        except Exception:
            continue  # e.g. a TYPE_CHECKING-only name: this parameter is not checked
    return out


def _is_path_type(hint: Any) -> bool:
    origin = typing.get_origin(hint) or hint
    return inspect.isclass(origin) and issubclass(origin, (os.PathLike, pathlib.PurePath))


def _fits(hint: Any, value: Any) -> bool | None:
    """True / False when ``hint`` is a recognised shape; None when it is not checked."""
    if hint is Any:
        return None
    if hint is None or hint is type(None):
        return value is None
    origin = typing.get_origin(hint)
    if origin in _UNIONS:
        results = [_fits(arm, value) for arm in typing.get_args(hint)]
        if True in results:
            return True
        return None if None in results else False
    if origin is typing.Literal:
        # True == 1 in Python: compare the types too
        return any(type(value) is type(a) and value == a for a in typing.get_args(hint))
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if _is_path_type(hint):
        return isinstance(value, (str, os.PathLike))
    if origin in _LISTS or hint in _LISTS:
        return _fits_list(hint, origin or hint, value)
    if origin in _MAPPINGS or hint in _MAPPINGS:
        return _fits_mapping(hint, value)
    return None  # a class, a protocol, a callable...: not checked


def _fits_list(hint: Any, origin: Any, value: Any) -> bool | None:
    # a str is a Sequence[str] to a type checker, but text where a list is wanted is a
    # mistake on the command line (its letters would be the items): refused
    if not isinstance(value, (list, tuple)):
        return False
    args = typing.get_args(hint)
    if not args:
        return True
    if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        if len(value) != len(args):
            return False
        results = [_fits(a, v) for a, v in zip(args, value, strict=True)]
    else:
        results = [_fits(args[0], v) for v in value]
    if False in results:
        return False
    return None if None in results else True


def _fits_mapping(hint: Any, value: Any) -> bool | None:
    if not isinstance(value, dict):
        return False
    args = typing.get_args(hint)
    if len(args) != 2:
        return True
    results = [r for k, v in value.items() for r in (_fits(args[0], k), _fits(args[1], v))]
    if False in results:
        return False
    return None if None in results else True


def _describe(hint: Any) -> str:
    """What ``hint`` wants, in words (``"a number or null"``)."""
    if hint is None or hint is type(None):
        return "null"
    origin = typing.get_origin(hint)
    if origin in _UNIONS:
        arms = list(typing.get_args(hint))
        # None last: "a number or null"
        arms.sort(key=lambda a: a is None or a is type(None))
        words = list(dict.fromkeys(_describe(a) for a in arms))
        return " or ".join(words)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    if hint is bool:
        return "true or false"
    if hint is int:
        return "a whole number"
    if hint is float:
        return "a number"
    if hint is str:
        return "text"
    if _is_path_type(hint):
        return "a path"
    args = typing.get_args(hint)
    if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
        return f"a list of {len(args)} ({', '.join(_describe(a) for a in args)})"
    if origin in _LISTS or hint in _LISTS:
        return f"a list of {_describe(args[0])}" if args else "a list"
    if origin in _MAPPINGS or hint in _MAPPINGS:
        return "a JSON object"
    return getattr(hint, "__name__", None) or str(hint)


def mismatch(hint: Any, value: Any) -> str | None:
    """What ``hint`` wants, in words, when ``value`` does not fit it; else None.

    None too when ``hint`` is not a shape this module checks (see the module docstring).

    Example:
        >>> mismatch(int, True)
        'a whole number'
        >>> mismatch(float | None, None) is None
        True
    """
    if _fits(hint, value) is False:
        return _describe(hint)
    return None
