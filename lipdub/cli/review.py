"""``lipdub review WORKDIR``: the review page over a dub's work directory."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any

from lipdub.cli._args import add_command, add_offline, check_device, device_arg
from lipdub.cli._components import (
    add_checkpoint_option,
    add_precision_option,
    add_slot_options,
    slots_of,
)
from lipdub.cli._dub_options import (
    add_crf_option,
    add_face_option,
    add_fit_options,
    add_glossary_option,
    add_quality_options,
    add_separation_options,
)
from lipdub.cli._render import echo
from lipdub.errors import InputError
from lipdub.slots import CORE

__all__ = ["register", "serve_review"]


def require_review_extra() -> None:
    """Refuse early, naming the extra, when Starlette or uvicorn is missing."""
    from lipdub._deps import require_modules

    require_modules("review", "the review page", "starlette", "uvicorn", extra="review")


def serve_review(
    workdir: str | Path,
    pipeline: Any,
    options: Any,
    *,
    voice: str | None,
    output: str | None,
    args: argparse.Namespace,
    input: str | None = None,
) -> int:
    """Open ``workdir`` for review and serve the page until Ctrl-C."""
    require_review_extra()
    from lipdub.review.server import ReviewServer
    from lipdub.review.session import ReviewSession

    session = ReviewSession(
        workdir, pipeline, options=options, voice=voice, input=input, output=output
    )
    server = ReviewServer(session, port=getattr(args, "port", 0) or 0)
    echo(f"review page for {session.root}: {server.url}")
    echo("(the address is the page's key: keep it to yourself; Ctrl-C to stop)")
    sys.stdout.flush()
    if not getattr(args, "no_browser", False):
        import webbrowser

        webbrowser.open(server.url)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    from lipdub.cli._components import pipeline_from_args
    from lipdub.cli._dub_options import options_from_args
    from lipdub.dub.workdir import Workdir

    require_review_extra()
    check_device(args.device)
    root = Path(args.workdir)
    if not (root / "manifest.json").is_file():
        raise InputError(
            "not a lipdub work directory (no manifest.json)",
            path=root,
            hint="run `lipdub dub VIDEO --to LANG --stop-after speak` first",
        )
    backends = Workdir(root).meta.get("backends") or {}
    for s in slots_of(args):  # the backends the dub used; the defaults if it is silent
        if getattr(args, s.dest) is None:
            setattr(args, s.dest, str(backends.get(s.kind) or s.cli_default or s.default))
    pipeline = pipeline_from_args(args)
    options = options_from_args(args)
    return serve_review(
        root, pipeline, options, voice=args.voice, output=args.output, args=args, input=args.input
    )


def register(sub: Any) -> None:
    """Add this module's subcommand(s) to the ``lipdub`` parser."""
    sp = add_command(
        sub,
        "review",
        cmd_review,
        "a local web page to review a dub line by line, listen, fix it and finish it",
    )
    sp.add_argument("workdir", help="the dub's work directory (INPUT.lipdub/ by default)")
    sp.add_argument(
        "--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)"
    )
    sp.add_argument("--no-browser", action="store_true", help="print the URL, do not open it")
    sp.add_argument(
        "--input",
        help="the input video, if it moved since the dub (default: the "
        "one the work directory names)",
    )
    sp.add_argument(
        "-o",
        "--output",
        help="output video (default: the one the dub wrote, "
        "else INPUT.<lang>.mp4); {lang} stands for the language",
    )
    group = sp.add_argument_group(
        "the dub's settings",
        "give the ones the dub was made with, or the stages they change are redone; the "
        "backends default to those the work directory names",
    )
    add_slot_options(
        group,
        list(CORE),
        defaults=False,
        default_help="the dub's",
    )
    add_checkpoint_option(group)
    add_precision_option(group)
    group.add_argument("--voice", help="voice name the dub used")
    group.add_argument("--voice-map", help="per-speaker voices: A=voice1,B=voice2")
    add_glossary_option(group)
    add_separation_options(group, defaults=False)
    add_face_option(group, defaults=False)
    add_quality_options(group)
    group.add_argument(
        "--keep-background",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="keep the original background under the new speech (default: keep)",
    )
    group.add_argument("--subtitles", default="srt", help="comma list of srt,vtt ('' for none)")
    group.add_argument(
        "--burn-subtitles", action="store_true", help="draw the target subtitles into the video"
    )
    group.add_argument("--allow-no-face", action="store_true", help="dub even if no face is seen")
    add_fit_options(group)
    add_crf_option(group)
    group.add_argument(
        "--device", type=device_arg, help="auto, cpu, cuda or cuda:N (default: auto)"
    )
    group.add_argument(
        "--opt",
        action="append",
        metavar="SLOT.KEY=VALUE",
        help="component option (repeatable), as for `lipdub dub`",
    )
    add_offline(sp)
