"""The dub's options shared by ``lipdub dub`` and ``lipdub review`` (the review page
finishes a dub with the same options): ``--separator``/``--speakers``/``--diarizer``,
``--face``/``--scorer``, ``--max-rate``/``--allow-truncation``, ``--glossary``
(``batch`` and ``translate`` take it too), and the
:class:`~lipdub.dub.options.DubOptions` they ask for.
"""

from __future__ import annotations

import argparse
from typing import Any

from lipdub.cli._args import number
from lipdub.cli._components import add_slot_options
from lipdub.errors import InputError

__all__ = [
    "add_crf_option",
    "add_face_option",
    "add_fit_options",
    "add_glossary_option",
    "add_quality_options",
    "add_separation_options",
    "glossary_from_args",
    "options_from_args",
]


def options_from_args(args: argparse.Namespace) -> Any:
    """The :class:`DubOptions` the options of ``args`` ask for."""
    from lipdub.dub.options import DubOptions, FitOptions, QualityOptions

    voice_map = {}
    for pair in (args.voice_map or "").split(","):
        if pair.strip():
            speaker, sep, voice = pair.partition("=")
            if not sep:
                raise InputError(f"--voice-map takes SPEAKER=VOICE pairs, got {pair!r}")
            voice_map[speaker.strip()] = voice.strip()
    return DubOptions(
        keep_background=args.keep_background,
        subtitles=tuple(s for s in args.subtitles.split(",") if s),
        voice_map=voice_map,
        allow_no_face=args.allow_no_face,
        burn_subtitles=args.burn_subtitles,
        face=args.face,
        glossary=glossary_from_args(args),
        fit=FitOptions(max_rate=args.max_rate),
        allow_truncation=args.allow_truncation,
        crf=args.crf,
        quality=QualityOptions(
            check=args.quality, model=args.quality_model, max_cer=args.quality_max_cer
        ),
    )


def add_quality_options(sp: Any) -> None:
    """``--quality/--no-quality``, ``--quality-model`` and ``--quality-max-cer``: the
    checks of every dubbed line (``dub`` and ``review``)."""
    from lipdub.cli._args import number
    from lipdub.quality.records import QualityOptions

    default = QualityOptions()
    sp.add_argument(
        "--quality",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="check every dubbed line (back-transcription CER, speaker similarity, timing) "
        "and speak a failing line once more (default: on; --no-quality switches it off)",
    )
    sp.add_argument(
        "--quality-model",
        default=default.model,
        metavar="SIZE|DIR",
        help="Whisper model that back-transcribes the dubbed lines: a size or a model "
        "folder (with model.bin; any other folder is refused before the dub starts), never "
        "downloaded here (default: auto, the dub's Whisper transcriber)",
    )
    sp.add_argument(
        "--quality-max-cer",
        type=number(0, 10),
        default=default.max_cer,
        metavar="CER",
        help=f"a line whose character error rate is above this is retried, then flagged "
        f"for review (default: {default.max_cer:g})",
    )


def add_crf_option(sp: Any) -> None:
    """``--crf N``: the H.264 quality of the finished video (``dub`` and ``review``)."""
    sp.add_argument(
        "--crf",
        type=number(0, 51, integer=True),
        default=18,
        metavar="N",
        help="H.264 quality of the output, 0 (lossless) to 51; lower is better "
        "(default: 18, visually lossless)",
    )


def add_fit_options(sp: Any) -> None:
    """``--max-rate`` and ``--allow-truncation``: how fast a line may be spoken, and
    whether a line too long for its time may be cut (``dub`` and ``review``)."""
    sp.add_argument(
        "--max-rate",
        type=number(1.0, 4.0),
        default=1.2,
        metavar="X",
        help="fastest speed a dubbed line is ever spoken at, 1.0-4.0 (default: 1.2)",
    )
    sp.add_argument(
        "--allow-truncation",
        action="store_true",
        help="cut the lines too long for their time even at --max-rate, and report each "
        "one, instead of stopping before the video",
    )


def add_glossary_option(sp: Any) -> None:
    """``--glossary terms.csv``: terms every translator renders a fixed way."""
    sp.add_argument(
        "--glossary",
        metavar="CSV",
        help="terms to translate a fixed way, one per line: SOURCE TERM, TARGET TERM (or "
        "keep, for names and brands); a line that breaks a term is reported",
    )


def glossary_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~lipdub.translate.glossary.Glossary` of ``--glossary``, or None."""
    path = getattr(args, "glossary", None)
    if not path:
        return None
    from lipdub.translate.glossary import Glossary

    return Glossary.load(path)


def add_separation_options(sp: Any, *, defaults: bool = True) -> None:
    """``--separator``, ``--speakers`` and ``--diarizer`` (``dub`` and ``review``)."""
    add_slot_options(sp, ["separator"], defaults=defaults, default_help="the dub's")
    sp.add_argument(
        "--speakers",
        metavar="N|auto",
        type=_speakers_arg,
        help="find who speaks when and split the transcript by speaker (N speakers, or "
        "auto); writes the editable speakers.json",
    )
    add_slot_options(sp, ["diarizer"], defaults=defaults, default_help="the dub's")


def add_face_option(sp: Any, *, defaults: bool = True) -> None:
    """``--face`` and ``--scorer``: which face is lip-synced when several are seen
    (``dub`` and ``review``)."""
    sp.add_argument(
        "--face",
        type=_face_arg,
        default="auto",
        metavar="active|largest|auto|ID",
        help="which face to lip-sync when several are seen: active (the one speaking in "
        "each span, scored with SyncNet; the largest without its weights), largest, a "
        "face id from faces.json, or auto (default: active when the syncnet_v2 weights "
        "are cached, else the face track as before); the choice is the editable faces.json",
    )
    add_slot_options(sp, ["scorer"], defaults=defaults, default_help="the dub's")


def _face_arg(text: str) -> str:
    """``--face``: active, largest, auto or a face id."""
    value = text.strip().lower()
    if value in ("active", "largest", "auto") or (value.isascii() and value.isdigit()):
        return value
    raise argparse.ArgumentTypeError(
        f"expected active, largest, auto or a face id (0, 1, ...), got {text!r}"
    )


def _speakers_arg(text: str) -> int | str:
    """``--speakers``: a count >= 1 or ``auto``."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(
            f"expected a number of speakers >= 1 or 'auto', got {text!r}"
        )
    return n
