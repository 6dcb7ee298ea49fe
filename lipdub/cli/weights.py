"""``lipdub weights``: list, download or convert model weights."""

from __future__ import annotations

import argparse
from typing import Any

from lipdub.cli._args import (
    add_command,
    add_offline,
)
from lipdub.cli._render import ProgressRenderer, echo
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
            with ProgressRenderer(not args.quiet) as progress:
                path = hub.download_weights(spec.name, cache_dir=args.cache_dir, on_event=progress)
            echo(f"{spec.name}: {path}")
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
    return 0


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
    sp.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    add_offline(sp)
