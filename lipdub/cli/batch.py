"""``lipdub batch``: dub a catalogue (a manifest of videos) into many languages on Ray."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from lipdub.cli._args import (
    add_command,
    add_offline,
    check_device,
    check_workdir,
    device_arg,
    number,
)
from lipdub.cli._components import (
    add_checkpoint_option,
    add_precision_option,
    add_slot_options,
    component_specs,
)
from lipdub.cli._dub_options import add_fit_options, add_glossary_option
from lipdub.cli._render import echo, one_line
from lipdub.errors import InputError
from lipdub.slots import CORE

__all__ = ["register"]


def _api_limits(pairs: list[str] | None) -> dict[str, int] | None:
    if not pairs:
        return None
    from lipdub.distributed import DEFAULT_API_CONCURRENCY

    limits = dict(DEFAULT_API_CONCURRENCY)
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip() or not value.strip().isdigit() or int(value) < 1:
            raise InputError(f"--api-limit takes NAME=N with N >= 1, got {pair!r}")
        limits[name.strip()] = int(value)
    return limits


def cmd_batch(args: argparse.Namespace) -> int:
    from lipdub.cli._dub_options import glossary_from_args
    from lipdub.distributed import BatchEvent, PipelineSpec, dub_many, load_manifest
    from lipdub.dub.options import DubOptions, FitOptions

    check_device(args.device)
    check_workdir(args.workdir)
    items = load_manifest(args.manifest)
    manifest = Path(args.manifest)
    workdir = Path(args.workdir) if args.workdir else manifest.with_name(f"{manifest.name}.lipdub")
    spec = PipelineSpec(
        component_specs(args),
        device=args.device,
        options=DubOptions(
            keep_background=args.keep_background,
            glossary=glossary_from_args(args),
            fit=FitOptions(max_rate=args.max_rate),
            allow_truncation=args.allow_truncation,
        ),
    )

    def show(e: BatchEvent) -> None:
        if args.quiet or e.kind == "started":
            return
        rate = ", ".join(f"{s} {r:.2f}/s" for s, r in e.stage_rate.items())
        what = {"finished": "done", "failed": "FAILED", "retry": "retrying"}[e.kind]
        line = f"[{e.done}/{e.total}] {Path(e.input).name} -> {e.language}: {what}"
        if e.message:
            line += f" ({e.message[:120]})"
        line += f"  | stage throughput: {rate}" if rate else ""
        sys.stderr.write(one_line(line) + "\n")
        sys.stderr.flush()

    report = dub_many(
        items,
        args.to,
        pipeline=spec,
        workdir_root=workdir,
        output_dir=args.output_dir,
        address=args.address,
        num_cpus=args.num_cpus,
        gpus_per_task=args.gpus_per_task,
        max_retries=args.retries,
        api_concurrency=_api_limits(args.api_limit),
        on_event=show,
        # Ray's own start-up notices (the token-authentication warning...) are noise
        # on every run; --verbose shows them
        ray_logging_level=logging.INFO if args.verbose else logging.ERROR,
    )
    path = report.save(args.report or workdir / "report.json")
    echo(report.table())
    echo(f"report: {path}")
    return 0 if report.failed == 0 else 1


def register(sub: Any) -> None:
    """Add this module's subcommand(s) to the ``lipdub`` parser."""
    sp = add_command(
        sub, "batch", cmd_batch, "dub many videos into many languages on Ray (lipdub[ray])"
    )
    sp.add_argument("manifest", help="CSV (header: input,output,from,text) or JSON list of videos")
    sp.add_argument(
        "--to", metavar="LANGS", required=True, help="target languages, comma-separated: es,fr,de"
    )
    sp.add_argument(
        "--address",
        metavar="ADDR",
        help="Ray cluster: auto (the running one) or ray://HOST:10001 (default: a local Ray)",
    )
    sp.add_argument(
        "--num-cpus",
        metavar="N",
        type=number(1, integer=True),
        help="CPUs of the local Ray, i.e. parallel tasks (default: all; ignored with --address)",
    )
    sp.add_argument(
        "--gpus-per-task",
        metavar="N",
        type=number(0),
        help="GPUs per task, fractions allowed (default: 1 if the cluster has GPUs, else 0)",
    )
    sp.add_argument(
        "--workdir",
        metavar="DIR",
        help="folder of the per-video work directories, on storage every node sees "
        "(default: MANIFEST.lipdub/)",
    )
    sp.add_argument(
        "--output-dir", metavar="DIR", help="where outputs go (default: beside each input)"
    )
    sp.add_argument(
        "--retries",
        metavar="N",
        type=number(0, 20, integer=True),
        default=2,
        help="further attempts of a failed task (default 2)",
    )
    sp.add_argument(
        "--api-limit",
        action="append",
        metavar="NAME=N",
        help="at most N tasks calling cloud API NAME at once (repeatable; default google=4)",
    )
    sp.add_argument(
        "--report", metavar="FILE", help="JSON report file (default: WORKDIR/report.json)"
    )
    add_slot_options(sp, [*CORE, "separator"])  # no --speakers / --face in a batch
    add_glossary_option(sp)
    add_checkpoint_option(sp)
    add_precision_option(sp)
    sp.add_argument(
        "--keep-background",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="keep the original background sound under the new speech (default: keep)",
    )
    add_fit_options(sp)
    sp.add_argument(
        "--device",
        type=device_arg,
        help="auto, cpu, cuda or cuda:N in each worker (default: auto)",
    )
    sp.add_argument(
        "--opt",
        action="append",
        metavar="SLOT.KEY=VALUE",
        help="component option (repeatable), e.g. --opt transcriber.model=small",
    )
    sp.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    add_offline(sp)
