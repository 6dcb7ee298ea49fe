"""The component slots of a dub, declared once.

A dub is a bag of components (diffusers-style): a transcriber, a translator, a voice, a
face detector, a lip-syncer, a background separator, a diarizer and the scorer that
tells which face speaks. :data:`SLOTS` is the one table of them. Everything that lists
the slots is derived from it:

* :mod:`lipdub.registry`: one kind per slot, its interface and its entry-point group;
* :class:`~lipdub.dub.pipeline.DubbingPipeline`: its keyword arguments and defaults;
* the ``lipdub`` command: the backend flags (``--tts``, ``--lipsyncer``...) and the
  ``--opt SLOT.KEY=VALUE`` prefixes;
* :class:`~lipdub.distributed.PipelineSpec`: the slots a Ray worker builds;
* the table in ``docs/backends.md`` (:func:`markdown_table`; a test compares them).

This module imports nothing else of lipdub, so any layer may read it.

Example:
    >>> slot("voice").flag, slot("voice").default
    ('--tts', 'espeak')
    >>> [s.kind for s in SLOTS][:3]
    ['transcriber', 'translator', 'voice']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["CORE", "OPTIONAL", "SLOTS", "Kind", "Slot", "markdown_table", "slot", "slot_of_opt"]

#: A slot's name, which is also its registry kind (for mypy; a test keeps it equal to
#: the kinds of :data:`SLOTS`).
Kind = Literal[
    "transcriber", "translator", "voice", "detector", "lipsyncer", "separator", "diarizer", "scorer"
]


@dataclass(frozen=True)
class Slot:
    """One component slot.

    Args:
        kind: The slot's name: its registry kind and the ``SLOT`` of ``--opt SLOT.KEY=V``.
        interface: ``"module:Class"`` of the base class every backend of it subclasses.
        group: The entry-point group through which plugins add backends.
        argument: The :class:`~lipdub.dub.pipeline.DubbingPipeline` keyword that takes it.
        flag: The ``lipdub`` option that names its backend.
        aliases: Other spellings of ``flag`` (kept for old command lines).
        default: The backend a pipeline gets when none is given (None: the slot is
            empty unless asked for).
        cli_default: The backend the command line names when the flag is left out
            (None: the command decides, as ``--tts`` does with ``--voice clone``).
        help: What the slot does, for ``--help`` and the docs table.
        opt_aliases: Other spellings of ``SLOT`` in ``--opt`` (``tts`` for ``voice``).
    """

    kind: Kind
    interface: str
    group: str
    argument: str
    flag: str
    aliases: tuple[str, ...]
    default: str | None
    cli_default: str | None
    help: str
    opt_aliases: tuple[str, ...] = ()

    @property
    def dest(self) -> str:
        """The attribute of the parsed command line that holds the flag's value."""
        return self.flag.removeprefix("--").replace("-", "_")


#: Every slot, in the order a dub uses them.
SLOTS: tuple[Slot, ...] = (
    Slot(
        "transcriber",
        "lipdub.transcribe.base:Transcriber",
        "lipdub.transcribers",
        "transcriber",
        "--transcriber",
        (),
        "whisper",
        "whisper",
        "speech to text",
    ),
    Slot(
        "translator",
        "lipdub.translate.base:Translator",
        "lipdub.translators",
        "translator",
        "--translator",
        (),
        "opus",
        "opus",
        "text translation",
    ),
    Slot(
        "voice",
        "lipdub.voice.base:VoiceSynth",
        "lipdub.voices",
        "voice",
        "--tts",
        (),
        "espeak",
        None,
        "text to speech (clone: the best cloning voice installed)",
        opt_aliases=("tts",),
    ),
    Slot(
        "detector",
        "lipdub.faces.base:FaceDetector",
        "lipdub.face_detectors",
        "detector",
        "--detector",
        (),
        "retinaface",
        "retinaface",
        "face detector",
    ),
    Slot(
        "lipsyncer",
        "lipdub.lipsync.base:LipSyncer",
        "lipdub.lipsyncers",
        "lipsyncer",
        "--lipsyncer",
        ("--model",),
        "wav2lip_gan",
        "wav2lip_gan",
        "lip-sync model",
    ),
    Slot(
        "separator",
        "lipdub.separate.base:Separator",
        "lipdub.separators",
        "separator",
        "--separator",
        (),
        "auto",
        "auto",
        "voice/background separation (auto: demucs when installed with its weights, else duck)",
    ),
    Slot(
        "diarizer",
        "lipdub.diarize.base:Diarizer",
        "lipdub.diarizers",
        "diarizer",
        "--diarizer",
        (),
        None,
        "auto",
        "who speaks when (used with --speakers; auto: meeting when its models are "
        "installed, else resemblyzer)",
    ),
    Slot(
        "scorer",
        "lipdub.eval.base:SpeakingScorer",
        "lipdub.scorers",
        "speaker_scorer",
        "--scorer",
        ("--syncnet",),
        "syncnet_v2",
        "syncnet_v2",
        "which face speaks when several are seen: a scorer name or a syncnet_v2.model "
        "file, the syncnet_v2 weights only when already cached",
    ),
)

_BY_KIND: dict[str, Slot] = {s.kind: s for s in SLOTS}

#: The optional slots (separation, who speaks, the speaking face): the commands show
#: their flags beside the options they go with (``--speakers``, ``--face``).
OPTIONAL: tuple[Kind, ...] = ("separator", "diarizer", "scorer")

#: The slots every dub fills, in the order of :data:`SLOTS`.
CORE: tuple[Kind, ...] = tuple(s.kind for s in SLOTS if s.kind not in OPTIONAL)


def slot(kind: str) -> Slot:
    """The slot called ``kind``.

    Raises:
        KeyError: no such slot (callers turn it into their own error).
    """
    return _BY_KIND[kind]


def slot_of_opt(prefix: str) -> Slot | None:
    """The slot an ``--opt`` prefix names (``"voice"`` or ``"tts"``), or None.

    Example:
        >>> slot_of_opt("tts").kind, slot_of_opt("nope")
        ('voice', None)
    """
    for s in SLOTS:
        if prefix == s.kind or prefix in s.opt_aliases:
            return s
    return None


def markdown_table() -> str:
    """The slots as the Markdown table of ``docs/backends.md``."""
    rows = [
        "| slot (registry kind) | `DubbingPipeline` argument | `lipdub` flag | default "
        "| entry-point group | what it does |",
        "|---|---|---|---|---|---|",
    ]
    for s in SLOTS:
        flags = ", ".join(f"`{f}`" for f in (s.flag, *s.aliases))
        default = f"`{s.default}`" if s.default else "none"
        rows.append(
            f"| `{s.kind}` | `{s.argument}` | {flags} | {default} | `{s.group}` | {s.help} |"
        )
    return "\n".join(rows)
