"""``lipdub weights``: list, download or convert model weights."""

from __future__ import annotations

import argparse
from typing import Any

from lipdub.cli._args import (
    add_command,
    add_offline,
)
from lipdub.cli._render import ProgressRenderer, echo
from lipdub.cli.lipsync import announce_preparation
from lipdub.errors import InputError

__all__ = ["register"]


def cmd_weights(args: argparse.Namespace) -> int:
    from lipdub import hub

    if args.action == "download":
        if not args.name:
            raise InputError(
                "name the models to download, e.g. `lipdub weights download wav2lip_gan "
                "whisper-small opus-en-es`",
                hint="`lipdub weights list` shows every name",
            )
        specs = [hub.lookup(name) for name in args.name]  # unknown names fail before any download
        for spec in specs:
            choice = None
            with ProgressRenderer(not args.quiet) as progress:
                path = hub.download_weights(spec.name, cache_dir=args.cache_dir, on_event=progress)
                if not args.no_prepare:  # a lip-syncer registered under the weights' name
                    choice = _prepare_lipsyncer(spec.name, args, announce_preparation(progress))
            echo(f"{spec.name}: {path}")
            if choice is not None:
                echo(f"{spec.name}: precision auto here -> {choice}")
        return 0
    if args.action == "convert":
        if not args.input or not args.output:
            raise InputError("usage: lipdub weights convert IN OUT.safetensors [--half]")
        out = hub.convert_weights(args.input, args.output, half=args.half)
        echo(f"wrote {out}")
        return 0
    echo(f"{'name':<34} {'size':>10}  {'revision':<16} {'sha256':<8} {'cache':<12} repo")
    for spec in hub.all_specs():
        if args.name and not any(n in spec.name for n in args.name):
            continue
        cached = hub.cached_path(spec, cache_dir=args.cache_dir)
        if cached is None:
            state = "-"
        elif spec.sha256 is None and spec.sha256_prefix is None:
            state = "cached"
        else:
            state = "verified" if hub.is_verified(cached, spec) else "unverified"
        if spec.pinned:
            rev = f"pin {spec.revision[:10]}" if spec.revision else ""
        else:
            rev = f"tag {spec.revision}" if spec.revision else "main (no pin)"
        sha = "full" if spec.sha256 else ("prefix" if spec.sha256_prefix else "unknown")
        where = spec.repo_id + ("" if spec.is_folder else f"/{spec.filename}")
        echo(f"{spec.name:<34} {spec.size_text():>10}  {rev:<16} {sha:<8} {state:<12} {where}")
    for pattern, what in hub.PATTERNS:
        echo(f"{pattern:<34} {'':>10}  {'':<16} {'':<8} {'':<12} {what}")
    _list_licences(args)
    _list_auto_choices(args)
    return 0


def _list_licences(args: argparse.Namespace) -> None:
    """The terms of the lip-sync weights listed (Wav2Lip's are non-commercial; MuseTalk
    runs with three models, each with its own card)."""
    from lipdub import hub

    rows = [
        f"licence of {spec.name}: {spec.licence}"
        for spec in hub.all_specs()
        if spec.slot == "lipsyncer"
        and spec.licence
        and (not args.name or any(n in spec.name for n in args.name))
    ]
    for row in rows:
        echo(row)


#: The catalogue names of Wav2Lip weights (``weights list`` shows their ``auto`` choice).
WAV2LIP_NAMES = ("wav2lip", "wav2lip_gan")


def _prepare_lipsyncer(name: str, args: argparse.Namespace, on_event: Any) -> str | None:
    """Run the one-time preparation of the lip-syncer registered under the weights'
    name, if any (Wav2Lip: build the int8 model and measure ``auto``), so the first dub
    does none of it; returns what ``auto`` resolved to and why, or None."""
    from lipdub import registry

    if name not in registry.available("lipsyncer"):
        return None
    taken = registry.option_names("lipsyncer", name)
    wanted = {"cache_dir": args.cache_dir, "local_files_only": True}
    opts = {k: v for k, v in wanted.items() if taken is None or k in taken}
    syncer = registry.resolve("lipsyncer", name, **opts)
    syncer.prepare(on_event=on_event)
    choice = getattr(syncer, "auto_choice", None)
    if choice is not None:
        return str(choice.reason())
    precision = getattr(syncer, "precision", None)
    return None if precision is None else str(precision)


def _list_auto_choices(args: argparse.Namespace) -> None:
    """What ``auto`` chose on this machine for each cached Wav2Lip weights, and why."""
    from lipdub import hub
    from lipdub.lipsync.auto_precision import cpu_identity
    from lipdub.lipsync.base import default_threads
    from lipdub.lipsync.wav2lip import recorded_auto_choice

    rows = []
    for spec in hub.all_specs():
        wanted = not args.name or any(n in spec.name for n in args.name)
        if spec.name not in WAV2LIP_NAMES or not wanted:
            continue
        cached = hub.cached_path(spec, cache_dir=args.cache_dir)
        if cached is None:
            continue
        sha = spec.sha256 or hub.sha256_file(cached)
        choice = recorded_auto_choice(sha)
        if choice is None:
            rows.append(
                f"  {spec.name:<12} not measured yet: `lipdub weights download {spec.name}` "
                "measures it (or the first run)"
            )
        else:
            rows.append(f"  {spec.name:<12} {choice.reason()} [measured {choice.measured_at}]")
    if rows:
        cpu = cpu_identity()
        flags = [f for f in cpu["flags"].split() if f in _SPEED_FLAGS]
        echo(
            f"precision auto on this CPU ({cpu['model_name']}, family {cpu['family']} model "
            f"{cpu['model']}; {' '.join(flags) or 'no AVX'}; {default_threads()} threads):"
        )
        for row in rows:
            echo(row)


_SPEED_FLAGS = frozenset(
    {"avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_bf16", "amx_int8"}
)


def register(sub: Any) -> None:
    """Add this module's subcommand(s) to the ``lipdub`` parser."""
    sp = add_command(sub, "weights", cmd_weights, "list, download or convert model weights")
    sp.add_argument(
        "action",
        choices=["list", "download", "convert"],
        help="list: the catalogue and what is cached; download: fetch and verify; "
        "convert: a checkpoint to safetensors",
    )
    sp.add_argument(
        "name",
        nargs="*",
        metavar="NAME",
        help="download: catalogue names (wav2lip_gan, s3fd, whisper-small, opus-en-es, "
        "piper-es_ES-davefx-medium; see `lipdub weights list`); list: filter by name; "
        "convert: IN OUT.safetensors",
    )
    sp.add_argument("--half", action="store_true", help="convert: store float16")
    sp.add_argument("--cache-dir", help="Hugging Face cache folder (default: HF_HUB_CACHE)")
    sp.add_argument(
        "--no-prepare",
        action="store_true",
        help="download: skip the lip-syncer's one-time preparation now (Wav2Lip: build the "
        "int8 model and measure precision auto); the first run then does it, as a "
        "reported step",
    )
    sp.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    add_offline(sp)
