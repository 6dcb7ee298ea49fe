"""The component options of the ``lipdub`` commands, derived from :data:`lipdub.slots.SLOTS`.

Each command names the slots it offers; the flags (``--tts``, ``--lipsyncer``/``--model``,
...), their defaults and help come from the slot table, and ``--opt SLOT.KEY=VALUE``
takes any of those slots. A backend is any registered name (built-in, plugin or user),
so a plugin's lip-syncer works in ``lipsync``, ``dub``, ``batch`` and ``review`` by name.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from lipdub.cli._args import check_options, parse_options
from lipdub.errors import InputError
from lipdub.slots import SLOTS, Slot, slot, slot_of_opt

__all__ = [
    "add_checkpoint_option",
    "add_precision_option",
    "add_slot_options",
    "component_specs",
    "pipeline_from_args",
    "slots_of",
]

#: Extra help per slot (model defaults worth saying on the command line).
_NOTES = {
    "transcriber": "whisper's model small; change it with --opt transcriber.model=base",
    "translator": "the OPUS-MT model of the language pair",
    "voice": "with --voice clone the default is chatterbox when installed with its "
    "weights, else match",
    "lipsyncer": "wav2lip (sharper sync), wav2lip_gan (sharper mouths), or a plugin's",
    "separator": "also duck, spectral",
    "diarizer": "also pyannote (needs HF_TOKEN)",
}


def _help(s: Slot, default: str | None, note: str | None) -> str:
    head = f"{s.help} backend" if s.kind != "scorer" else s.help
    tail = f"; {note}" if note else ""
    if default is None:
        return f"{head} (default: {s.cli_default or s.default}){tail}"
    return f"{head} (default: {default}){tail}"


def add_slot_options(
    sp: Any, kinds: Sequence[str], *, defaults: bool = True, default_help: str | None = None
) -> None:
    """Add the backend flag of each slot in ``kinds`` to the (sub)parser ``sp``.

    Args:
        sp: An argparse parser or argument group.
        kinds: The slots the command offers.
        defaults: Give each flag its slot's ``cli_default`` (False: None, the command
            fills it in, as ``review`` does from the work directory).
        default_help: What the help says of the default when ``defaults`` is False.
    """
    for kind in kinds:
        s = slot(kind)
        value = s.cli_default if defaults else None
        shown = (default_help or s.cli_default) if not defaults else value
        sp.add_argument(
            s.flag,
            *s.aliases,
            dest=s.dest,
            default=value,
            metavar="NAME|FILE" if kind == "scorer" else "NAME",
            help=_help(s, shown, _NOTES.get(kind)),
        )


def add_precision_option(sp: Any) -> None:
    """``--precision`` (``lipsync``, ``dub``, ``batch``, ``review``): passed to the
    lip-syncer when it takes a ``precision`` option (Wav2Lip: default ``auto``)."""
    sp.add_argument(
        "--precision",
        choices=["auto", "fp32", "bf16", "int8"],
        help="lip-sync model precision, for a lip-syncer that has one (Wav2Lip): auto "
        "(the default: the fastest mode whose faces stay within 40 dB PSNR of fp32, "
        "measured once per machine and weights; fp16 on CUDA), fp32 (the exact "
        "reference), bf16 (CPUs with AVX-512 BF16/AMX), int8 (ONNX Runtime on the CPU; "
        "needs lipdub[int8])",
    )


def add_checkpoint_option(sp: Any) -> None:
    """``--checkpoint FILE``: the lip-syncer's weights from a local file."""
    sp.add_argument(
        "--checkpoint",
        metavar="FILE",
        help="local weights of the lip-syncer (its name_or_path option) instead of the "
        "catalogue's download, e.g. a .pth/.pt/.safetensors Wav2Lip checkpoint",
    )


def slots_of(args: argparse.Namespace) -> list[Slot]:
    """The slots whose flag the command of ``args`` has."""
    return [s for s in SLOTS if hasattr(args, s.dest)]


def _voice_name(args: argparse.Namespace) -> str:
    """``--tts``, or with ``--voice clone`` and no ``--tts`` the cloning pick ``"clone"``."""
    tts: str | None = getattr(args, slot("voice").dest, None)
    if tts is None:
        clone = getattr(args, "voice", None) == "clone"
        return "clone" if clone else str(slot("voice").default)
    return tts


def _lipsyncer_options(args: argparse.Namespace, name: str, opts: dict[str, Any]) -> None:
    """Add ``--checkpoint`` and ``--precision`` to the lip-syncer's options, the
    precision only where the lip-syncer takes it."""
    from lipdub import registry

    if getattr(args, "checkpoint", None):
        opts["name_or_path"] = args.checkpoint
    precision = getattr(args, "precision", None)
    if precision:
        taken = registry.option_names("lipsyncer", name)
        if taken is None or "precision" in taken:
            opts["precision"] = precision
        elif precision != "auto":
            raise InputError(
                f"--precision {precision}: the lipsyncer {name!r} has no precision option",
                backend=name,
                hint="leave --precision out, or pass its own options with --opt lipsyncer.KEY=V",
            )


def component_specs(args: argparse.Namespace) -> dict[str, Any]:
    """Slot -> backend name, or ``(name, options)``, for every slot the command has.

    From the backend flags, ``--opt SLOT.KEY=VALUE`` (keys checked against each
    backend), ``--checkpoint`` and ``--precision`` (the lip-syncer's), ``--speakers``
    (the diarizer: None without it).

    Raises:
        InputError: an ``--opt`` of a slot the command lacks, a key the backend does
            not take, a value of the wrong type, or diarizer options without ``--speakers``.
    """
    from lipdub import registry

    offered = slots_of(args)
    opts: dict[str, dict[str, Any]] = {s.kind: {} for s in offered}
    for key, value in parse_options(args.opt).items():
        prefix, dot, name = key.partition(".")
        found = slot_of_opt(prefix)
        if not dot or found is None or found.kind not in opts:
            raise InputError(
                f"--opt for {args.command} takes SLOT.KEY=VALUE with SLOT one of "
                f"{', '.join(opts)}; got {key!r}"
            )
        opts[found.kind][name] = value
    specs: dict[str, Any] = {}
    for s in offered:
        name = _voice_name(args) if s.kind == "voice" else getattr(args, s.dest)
        if s.kind == "diarizer":
            speakers = getattr(args, "speakers", None)
            if speakers is None:  # who speaks when: only with --speakers
                if opts[s.kind]:
                    raise InputError(
                        "--opt diarizer.*: the diarizer runs only with --speakers, "
                        "so these options would do nothing",
                        hint="add --speakers auto (or the number of speakers)",
                    )
                continue
            if speakers != "auto":
                opts[s.kind]["num_speakers"] = speakers
        if s.kind == "lipsyncer":
            _lipsyncer_options(args, name, opts[s.kind])
        checked = name
        if s.kind == "voice" and name == "clone" and opts[s.kind]:
            from lipdub.dub.stages.voices import pick_cloning_voice

            checked = pick_cloning_voice()[0]  # check against what it stands for
        if s.kind == "separator" and name == "auto" and opts[s.kind]:
            from lipdub.separate.auto import pick_separator

            checked = pick_separator()[0]
        if s.kind == "diarizer" and name == "auto":
            from lipdub.diarize.auto import pick_diarizer

            checked = pick_diarizer()[0]
        if s.kind == "scorer" and name not in registry.available("scorer"):
            if opts[s.kind]:
                raise InputError(
                    f"--opt scorer.*: {s.flag} {name} is a file, not a scorer name",
                    hint=f"name a scorer ({', '.join(registry.available('scorer'))}) "
                    "and give the file with --opt scorer.name_or_path=FILE",
                )
            specs[s.kind] = name  # a syncnet_v2.model file
            continue
        check_options(s.kind, checked, opts[s.kind], flag=f"--opt {s.kind}.*")
        specs[s.kind] = (name, opts[s.kind]) if opts[s.kind] else name
    return specs


def pipeline_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~lipdub.dub.pipeline.DubbingPipeline` the component options of
    ``args`` name."""
    from lipdub.dub.pipeline import DubbingPipeline

    specs = component_specs(args)
    kwargs = {slot(kind).argument: spec for kind, spec in specs.items()}
    return DubbingPipeline(**kwargs, device=args.device)
