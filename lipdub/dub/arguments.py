"""The type checks of :class:`DubbingPipeline <lipdub.dub.pipeline.DubbingPipeline>`'s
stage methods (``run()``'s are :class:`~lipdub.dub.request.RunRequest`'s).

A wrong type (``translate(t, 5)``, ``on_event=42``) is one
:class:`~lipdub.errors.InputError` naming the argument, before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from lipdub._checks import (
    callable_arg,
    describe,
    instance_arg,
    number_arg,
    optional_path_arg,
    path_arg,
    str_arg,
)
from lipdub.errors import InputError

__all__ = ["check_stage_args", "check_targets"]


def check_targets(value: object, name: str = "target_language") -> None:
    """A language code, a comma list (``"es,fr"``), or a list/tuple of codes."""
    if isinstance(value, str):
        str_arg(value, name, empty=False)
        return
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return
    raise InputError(
        f"{name} must be a language code like 'es', or a list of codes; got {describe(value)}",
        hint="e.g. 'es', 'es,fr' or ['es', 'fr']",
    )


def _clip(value: object, name: str) -> None:
    from lipdub.types import AudioClip

    instance_arg(value, name, AudioClip, "an AudioClip (lipdub.media.load_audio reads one)")


def _optional_clip(value: object, name: str) -> None:
    if value is not None:
        _clip(value, name)


def _transcript(value: object, name: str) -> None:
    from lipdub.types import Transcript

    instance_arg(value, name, Transcript, "a Transcript (Transcript.load reads one)")


def _optional_transcript(value: object, name: str) -> None:
    if value is not None:
        _transcript(value, name)


def _options(value: object, name: str) -> None:
    from lipdub.dub.options import DubOptions

    if value is not None:
        instance_arg(value, name, DubOptions, "a DubOptions or None")


def _references(value: object, name: str) -> None:
    if value is None:
        return
    if not isinstance(value, Mapping):
        raise InputError(
            f"{name} must be a mapping of speaker label to AudioClip, or None; "
            f"got {describe(value)}"
        )
    for label, clip in value.items():
        str_arg(label, f"a speaker label of {name}")
        _clip(clip, f"{name}[{label!r}]")


def _spans(value: object, name: str) -> None:
    if value is None:
        return
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise InputError(f"{name} must be a list of (start_s, end_s) pairs; got {describe(value)}")
    for i, span in enumerate(value):
        if not isinstance(span, (list, tuple)) or len(span) != 2:
            raise InputError(f"{name}[{i}] must be a (start_s, end_s) pair; got {describe(span)}")
        a = number_arg(span[0], f"{name}[{i}] start", low=0)
        b = number_arg(span[1], f"{name}[{i}] end", low=0)
        if a is not None and b is not None and b < a:
            raise InputError(f"{name}[{i}] ends before it starts: {a:g} > {b:g} s")


def _track(value: object, name: str) -> None:
    from lipdub.faces.track import FaceTrack

    if value is not None:
        instance_arg(value, name, FaceTrack, "a FaceTrack (from track_faces) or None")


def _total(value: object, name: str) -> None:
    number_arg(value, name, low=0, optional=True)


#: How each argument of the stage methods is checked, by name.
_STAGE_CHECKS: dict[str, Callable[[object, str], object]] = {
    "audio": _clip,
    "speech": _clip,
    "original": _optional_clip,
    "soundtrack": _optional_clip,
    "reference": _optional_clip,
    "references": _references,
    "transcript": _transcript,
    "translation": _transcript,
    "source": _transcript,
    "subtitles": _optional_transcript,
    "language": lambda v, n: str_arg(v, n, optional=True, empty=False),
    "target_language": lambda v, n: str_arg(v, n, empty=False),
    "voice": lambda v, n: str_arg(v, n, optional=True, empty=False),
    "input": path_arg,
    "output": path_arg,
    "cache_dir": optional_path_arg,
    "total_s": _total,
    "speech_spans": _spans,
    "track": _track,
    "options": _options,
    "on_event": callable_arg,
    "device": lambda v, n: str_arg(v, n, optional=True, empty=False),
}


def check_stage_args(**arguments: object) -> None:
    """Check the arguments of a :class:`DubbingPipeline` stage method, by name.

    Each method (``transcribe``, ``translate``, ``synthesize``, ``mix``, ``lipsync``,
    ``track_faces``, ``to``, and the constructor's ``device`` and ``options``) passes
    its own arguments as keywords; an :class:`InputError` names the first of a wrong
    type.

    Example:
        >>> check_stage_args(target_language=5)
        Traceback (most recent call last):
        ...
        lipdub.errors.InputError: target_language must be a non-empty string; got int 5
    """
    for name, value in arguments.items():
        _STAGE_CHECKS[name](value, name)
