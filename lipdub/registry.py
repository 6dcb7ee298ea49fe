"""Backends by name, imported only when asked for (fsspec's registry, lipdub's kinds).

Each component kind has a read-only table ``name -> Entry("module:Attr", extra, kwargs)``.
:func:`resolve` accepts an instance (returned as is), a name, ``(name, {options})`` or
``{"name": ..., **options}`` and builds the backend, importing its module on first use.
An unknown name raises :class:`~lipdub.errors.UnknownBackendError` listing the known
ones; a backend whose optional dependencies are missing raises
:class:`~lipdub.errors.BackendNotInstalled` naming the ``pip install`` that fixes it.

Third-party packages add backends through entry points, read on the first lookup:

* the group ``lipdub.backends``, entry name ``"<kind>.<name>"`` (``voice.acme``), or
* one group per kind: ``lipdub.transcribers``, ``lipdub.translators``,
  ``lipdub.voices``, ``lipdub.face_detectors``, ``lipdub.lipsyncers``... (each slot's
  ``group`` in :data:`lipdub.slots.SLOTS`, the one table of kinds).

The entry point's value is a ``"module:Class"`` string, so a plugin stays lazy too. A
plugin cannot shadow a built-in name; :func:`register` with ``replace=True`` can.

Test doubles are not built in: :func:`lipdub.testing.register_fakes` registers them
(``"fake"`` of every kind but separators, the ``"bright"`` detector and the
``"passthrough"`` lip-syncer), so they are listed and resolvable by name only in
programs that call it, such as test suites (importing :mod:`lipdub.testing` does not).

Example:
    >>> from lipdub import registry
    >>> "espeak" in registry.available("voice")
    True
    >>> registry.resolve("translator", "identity").translate(["Hola."], "es", "es")
    ['Hola.']
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar, cast

from lipdub.errors import BackendNotInstalled, InputError, UnknownBackendError
from lipdub.slots import SLOTS, Kind

__all__ = [
    "KINDS",
    "Entry",
    "Kind",
    "available",
    "entry",
    "option_hints",
    "option_names",
    "register",
    "registry",
    "resolve",
]

logger = logging.getLogger(__name__)

KINDS: tuple[Kind, ...] = tuple(s.kind for s in SLOTS)

_BASES: dict[Kind, str] = {s.kind: s.interface for s in SLOTS}

_GROUPS: dict[Kind, str] = {s.kind: s.group for s in SLOTS}


@dataclass(frozen=True)
class Entry:
    """Where a backend lives.

    Args:
        target: ``"module:Attr"`` or ``"module:Class.factory"`` (imported lazily), or the
            class/factory itself; called with the options.
        extra: The ``lipdub[extra]`` that installs its dependencies, if any.
        kwargs: Default options merged under the caller's.
        source: ``"builtin"``, ``"plugin"``, ``"user"`` or ``"testing"`` (the fakes
            :mod:`lipdub.testing` registers).
    """

    target: str | Callable[..., Any]
    extra: str | None = None
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    source: str = "builtin"


def _builtin() -> dict[Kind, dict[str, Entry]]:
    g, loc = "google", "local"
    return {
        "transcriber": {
            "google": Entry("lipdub.transcribe.google:GoogleTranscriber", g),
            "whisper": Entry("lipdub.transcribe.whisper:WhisperTranscriber", loc),
        },
        "translator": {
            "google": Entry("lipdub.translate.google:GoogleTranslator", g),
            "opus": Entry("lipdub.translate.opus:OpusTranslator", loc),
            "llm": Entry("lipdub.translate.llm:LLMTranslator", "llm"),
            "identity": Entry("lipdub.translate.identity:IdentityTranslator"),
        },
        "voice": {
            "google": Entry("lipdub.voice.google:GoogleVoiceSynth", g),
            "espeak": Entry("lipdub.voice.espeak:EspeakVoiceSynth", loc),
            "piper": Entry("lipdub.voice.piper:PiperVoiceSynth", loc),
            "match": Entry("lipdub.voice.match:MatchedVoiceSynth", loc),
            "chatterbox": Entry("lipdub.voice.chatterbox:ChatterboxVoiceSynth", extra="clone"),
        },
        "detector": {
            "retinaface": Entry("lipdub.faces.retinaface:RetinaFaceDetector", loc),
            "s3fd": Entry("lipdub.faces.s3fd:S3FDFaceDetector.from_pretrained"),
            "haar": Entry("lipdub.faces.haar:HaarFaceDetector"),
            "opencv": Entry("lipdub.faces.haar:HaarFaceDetector"),
        },
        "lipsyncer": {
            "wav2lip": Entry(
                "lipdub.lipsync.wav2lip:Wav2LipSyncer.from_pretrained",
                kwargs={"name_or_path": "wav2lip"},
            ),
            "wav2lip_gan": Entry(
                "lipdub.lipsync.wav2lip:Wav2LipSyncer.from_pretrained",
                kwargs={"name_or_path": "wav2lip_gan"},
            ),
            "musetalk": Entry("lipdub.lipsync.musetalk:MuseTalkSyncer.from_pretrained", "hd"),
        },
        "separator": {
            "duck": Entry("lipdub.separate.duck:DuckingSeparator"),
            "spectral": Entry("lipdub.separate.spectral:SpectralVoiceSeparator"),
            "demucs": Entry("lipdub.separate.demucs:DemucsSeparator", extra="separate"),
        },
        "diarizer": {
            "meeting": Entry("lipdub.diarize.meeting:MeetingDiarizer", extra="speakers"),
            "resemblyzer": Entry("lipdub.diarize.embedded:EmbeddedDiarizer", extra="speakers"),
            "pyannote": Entry("lipdub.diarize.pyannote:PyannoteDiarizer", extra="pyannote"),
        },
        "scorer": {
            "syncnet_v2": Entry("lipdub.eval.scorer:SyncNetScorer.from_pretrained"),
        },
    }


_lock = threading.Lock()
_tables: dict[Kind, dict[str, Entry]] = _builtin()
_plugins_loaded = False

#: Read-only view of every table: ``registry["voice"]["espeak"]``.
registry: Mapping[Kind, Mapping[str, Entry]] = MappingProxyType(
    {k: MappingProxyType(v) for k, v in _tables.items()}
)


def _check_kind(kind: str) -> Kind:
    if kind not in KINDS:
        raise InputError(f"unknown component kind {kind!r}; expected one of {', '.join(KINDS)}")
    return kind


def register(
    kind: Kind,
    name: str,
    target: str | Callable[..., Any],
    *,
    extra: str | None = None,
    replace: bool = False,
    source: str = "user",
    **kwargs: Any,
) -> None:
    """Add a backend under ``name``.

    Args:
        kind: The component kind (``"voice"``, ``"detector"``, ...).
        name: Short lowercase registry name.
        target: ``"module:Class"`` (stays lazy) or the class / factory itself.
        extra: The lipdub extra that installs its dependencies, for error messages.
        replace: Allow replacing an existing name (built-ins included).
        source: Recorded in the :class:`Entry` (``"user"``; ``"testing"`` for fakes).
        **kwargs: Default constructor options.

    Raises:
        InputError: if ``name`` exists and ``replace`` is False.
    """
    kind = _check_kind(kind)
    with _lock:
        table = _tables[kind]
        if name in table and not replace:
            raise InputError(
                f"a {kind} backend named {name!r} already exists ({table[name].target}); "
                "pass replace=True to override it"
            )
        table[name] = Entry(target, extra, dict(kwargs), source=source)


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    from importlib.metadata import entry_points

    found: list[tuple[Kind, str, str]] = []
    for ep in entry_points(group="lipdub.backends"):
        kind_name, _, name = ep.name.partition(".")
        if kind_name in KINDS and name:
            found.append((kind_name, name, ep.value))
        else:
            logger.warning(
                "ignoring lipdub.backends entry point %r: name it '<kind>.<name>'", ep.name
            )
    for kind, group in _GROUPS.items():
        found.extend((kind, ep.name, ep.value) for ep in entry_points(group=group))
    with _lock:
        for kind, name, value in found:
            if _tables[kind].get(name) == Entry(value, None, {}, source="plugin"):
                continue  # read before (the entry points are read again)
            if name in _tables[kind]:
                logger.warning(
                    "plugin %s backend %r (%s) ignored: the name is taken by %s",
                    kind,
                    name,
                    value,
                    _tables[kind][name].target,
                )
                continue
            _tables[kind][name] = Entry(value, None, {}, source="plugin")
        _plugins_loaded = True


def available(kind: Kind) -> list[str]:
    """Sorted names registered for ``kind`` (built-ins, plugins and user entries)."""
    kind = _check_kind(kind)
    _load_plugins()
    return sorted(_tables[kind])


def entry(kind: Kind, name: str) -> Entry:
    """The :class:`Entry` for ``name``.

    Raises:
        UnknownBackendError: listing the available names.
    """
    kind = _check_kind(kind)
    _load_plugins()
    try:
        return _tables[kind][name]
    except KeyError:
        raise UnknownBackendError(
            f"no {kind} backend named {name!r}",
            backend=name,
            hint=f"available: {', '.join(available(kind))}",
        ) from None


def _import_target(
    target: str | Callable[..., Any], *, kind: str, name: str, extra: str | None
) -> Any:
    if not isinstance(target, str):
        return target
    module_name, _, attr_path = target.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as e:
        missing = getattr(e, "name", None) or str(e)
        if missing and module_name.startswith(str(missing)):
            raise  # the backend module itself is missing: a bug or a broken plugin
        fix = (
            f'pip install "lipdub[{extra}]"'
            if extra
            else f"install the package providing {missing}"
        )
        raise BackendNotInstalled(
            f"the {kind} backend {name!r} needs {missing}, which is not installed",
            backend=name,
            hint=fix,
        ) from e
    for part in attr_path.split("."):
        obj = getattr(obj, part)
    return obj


def _base_class(kind: Kind) -> type:
    module_name, _, cls = _BASES[kind].partition(":")
    return cast(type, getattr(importlib.import_module(module_name), cls))


T = TypeVar("T")


def resolve(kind: Kind, spec: Any, **overrides: Any) -> Any:
    """Turn ``spec`` into a ready backend instance of ``kind``.

    Args:
        kind: The component kind.
        spec: An instance (returned as is), a registry name, ``(name, {options})`` or
            ``{"name": name, **options}``.
        **overrides: Options merged over the entry's defaults and the spec's.

    Raises:
        UnknownBackendError: the name is not registered.
        BackendNotInstalled: the backend's extra is not installed.
        InputError: ``spec`` has the wrong type.
    """
    kind = _check_kind(kind)
    base = _base_class(kind)
    if isinstance(spec, base):
        if overrides:
            raise InputError(f"options {sorted(overrides)} cannot be applied to a {kind} instance")
        return spec
    options: dict[str, Any] = {}
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], Mapping):
        name, options = spec[0], dict(spec[1])
    elif isinstance(spec, Mapping):
        options = dict(spec)
        name = options.pop("name", None)
    else:
        name = spec
    if not isinstance(name, str):
        raise InputError(
            f"a {kind} must be a {base.__name__} instance, a registry name or (name, options); "
            f"got {type(spec).__name__}"
        )
    ent = entry(kind, name)
    factory = _import_target(ent.target, kind=kind, name=name, extra=ent.extra)
    kwargs = {**ent.kwargs, **options, **overrides}
    instance = factory(**kwargs)
    if not isinstance(instance, base):
        raise InputError(
            f"{ent.target} built a {type(instance).__name__}, which is not a {base.__name__}",
            backend=name,
        )
    return instance


def option_names(kind: Kind, name: str) -> tuple[str, ...] | None:
    """The keyword options the ``name`` backend's constructor takes (for checking input).

    Reads the signature of the registered class or factory (importing its module).

    Returns:
        The option names, sorted; None when the factory takes ``**kwargs`` (any name
        may be valid) or has no readable signature.

    Raises:
        UnknownBackendError: the name is not registered.
        BackendNotInstalled: the backend's extra is not installed.

    Example:
        >>> option_names("voice", "espeak")  # doctest: +NORMALIZE_WHITESPACE
        ('default_voice', 'pitch', 'sample_rate_hz', 'sentence_pause_s', 'volume',
         'words_per_minute')
    """
    import inspect

    ent = entry(kind, name)
    factory = _import_target(ent.target, kind=kind, name=name, extra=ent.extra)
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    usable = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return tuple(sorted(p.name for p in params if p.kind in usable))


def option_hints(kind: Kind, name: str) -> dict[str, Any]:
    """The declared type of each keyword option of the ``name`` backend (for checking input).

    Reads the annotations of the registered class's ``__init__`` (or of the factory),
    resolved in the backend module's namespace: nothing more is imported than
    :func:`option_names` imports. An option whose annotation cannot be resolved (a name
    imported only for type checkers) is left out, so it is not checked; see
    :func:`lipdub._hints.mismatch` for the shapes that are.

    Raises:
        UnknownBackendError: the name is not registered.
        BackendNotInstalled: the backend's extra is not installed.

    Example:
        >>> option_hints("voice", "espeak")["sentence_pause_s"]
        <class 'float'>
    """
    from lipdub._hints import parameter_hints

    ent = entry(kind, name)
    factory = _import_target(ent.target, kind=kind, name=name, extra=ent.extra)
    taken = option_names(kind, name)
    hints = parameter_hints(factory)
    return {k: v for k, v in hints.items() if taken is None or k in taken}
