"""``lipdub dub``: the whole dub of a video or portrait, resumable."""

from __future__ import annotations

import argparse
import time
from typing import Any

from lipdub.cli._args import (
    VIDEO_SUFFIXES,
    add_command,
    add_offline,
    check_device,
    check_workdir,
    device_arg,
    output_arg,
    read_text_file,
)
from lipdub.cli._components import (
    add_checkpoint_option,
    add_precision_option,
    add_slot_options,
    component_specs,
    pipeline_from_args,
)
from lipdub.cli._dub_options import (
    add_crf_option,
    add_face_option,
    add_fit_options,
    add_glossary_option,
    add_quality_options,
    add_separation_options,
    options_from_args,
)
from lipdub.cli._render import ProgressRenderer, echo
from lipdub.cli.lipsync import announce_preparation
from lipdub.errors import InputError
from lipdub.slots import OPTIONAL, SLOTS

# component_specs and pipeline_from_args lived here: kept importable from this module
__all__ = ["component_specs", "pipeline_from_args", "register"]


#: The slots whose flags ``dub`` adds beside the options they go with (``--speakers``,
#: ``--face``); the other slots' flags come first.
_GROUPED = OPTIONAL


def cmd_dub(args: argparse.Namespace) -> int:
    check_device(args.device)
    check_workdir(args.workdir)
    text = read_text_file(args.text_file, "--text-file") if args.text_file else args.text
    pipeline = pipeline_from_args(args)
    options = options_from_args(args)
    if args.review:
        from lipdub.cli.review import require_review_extra

        require_review_extra()
    if args.review and args.stop_after not in (None, "translate", "speak"):
        raise InputError(
            "--review stops after the translation or the speech for the review page",
            hint="leave --stop-after out, or use --stop-after translate",
        )
    t0 = time.perf_counter()
    targets = [t.strip() for t in args.to.split(",") if t.strip()]
    with ProgressRenderer(not args.quiet) as progress:
        results = pipeline.run(
            args.input,
            targets,
            args.output,
            source_language=args.source,
            voice=args.voice,
            workdir=args.workdir,
            resume=not args.no_resume,
            stop_after=args.stop_after or ("speak" if args.review else None),
            text=text,
            transcript=args.transcript,
            translation=args.translation,
            redo=_stage_list(args.redo),
            keep=_stage_list(args.keep),
            options=options,
            on_event=announce_preparation(progress),
        )
    for result in results:
        if len(results) > 1 and result.translation is not None:
            echo(f"[{result.translation.language}]")
        echo(result.describe())
    wall = time.perf_counter() - t0
    staged = sum(v for r in results[:1] for v in r.timings.values())
    staged += sum(v for r in results[1:] for k, v in r.timings.items() if k not in _SHARED_STAGES)
    echo(
        f"wall time {wall:.1f} s: stages {staged:.1f} s, start-up and model loading "
        f"{max(0.0, wall - staged):.1f} s"
    )
    if args.review:
        from lipdub.cli.review import serve_review

        workdir = results[0].workdir
        return serve_review(
            workdir,
            pipeline,
            options,
            voice=args.voice,
            output=args.output,
            args=args,
            input=args.input,  # from the command line: the output may go beside it
        )
    return 0


_SHARED_STAGES = frozenset({"extract", "transcribe", "separate", "track"})


def _stage_list(values: list[str] | None) -> list[str]:
    return [s.strip() for v in values or () for s in v.split(",") if s.strip()]


def register(sub: Any) -> None:
    """Add this module's subcommand(s) to the ``lipdub`` parser."""
    from lipdub.dub.stages import STOPS

    sp = add_command(sub, "dub", cmd_dub, "translate a video's speech and lip-sync the speaker")
    sp.add_argument("input", help="video or still portrait")
    sp.add_argument(
        "--to",
        required=True,
        help="target language(s), BCP-47, comma-separated: es or es,fr,de (transcription, "
        "separation and face tracking are done once)",
    )
    sp.add_argument("--from", dest="source", help="source language (default: detect)")
    sp.add_argument(
        "-o",
        "--output",
        type=output_arg(VIDEO_SUFFIXES, "a video"),
        help=f"output video, {'/'.join(VIDEO_SUFFIXES)} (default: INPUT.<lang>.mp4); with "
        "several languages put {lang} in the name",
    )
    sp.add_argument(
        "--transcript",
        metavar="FILE",
        help="use this transcript (JSON, or SRT with --from) instead of transcribing",
    )
    sp.add_argument(
        "--translation",
        metavar="FILE",
        help="use this translation (JSON or SRT) instead of translating (one --to language)",
    )
    sp.add_argument(
        "--redo",
        action="append",
        metavar="STAGE",
        help="redo this stage (repeatable or comma list: transcribe, translate, speak, "
        "separate, voices, mix, track, faces, lipsync, subtitles); your edited files of it "
        "are first moved aside to a timestamped .bak",
    )
    sp.add_argument(
        "--keep",
        action="append",
        metavar="STAGE",
        help="keep your edit of this stage's file (transcribe, translate, faces, voices) even "
        "though what it was made from changed",
    )
    sp.add_argument(
        "--voice",
        help="voice name (see `lipdub voices`), or clone: each speaker in their own voice, "
        "cloned from the input (you need the speakers' consent; see docs/speakers.md)",
    )
    sp.add_argument("--voice-map", help="per-speaker voices: A=voice1,B=voice2")
    add_slot_options(sp, [s.kind for s in SLOTS if s.kind not in _GROUPED])
    add_glossary_option(sp)
    add_checkpoint_option(sp)
    add_precision_option(sp)
    sp.add_argument("--workdir", help="where stage artifacts go (default: INPUT.lipdub/)")
    sp.add_argument(
        "--stop-after",
        choices=STOPS,
        help="end after this stage, to review its artifact in the work directory",
    )
    sp.add_argument(
        "--no-resume",
        action="store_true",
        help="redo every stage (your edited transcript/translation are moved aside first)",
    )
    sp.add_argument(
        "--keep-background",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="keep the original background sound under the new speech (default: keep)",
    )
    add_separation_options(sp)
    sp.add_argument("--subtitles", default="srt", help="comma list of srt,vtt ('' for none)")
    sp.add_argument(
        "--burn-subtitles", action="store_true", help="draw the target subtitles into the video"
    )
    sp.add_argument("--text", help="speak this text instead of transcribing")
    sp.add_argument("--text-file", help="speak this file's text instead of transcribing")
    sp.add_argument(
        "--device",
        type=device_arg,
        help="auto, cpu, cuda or cuda:N (default: auto, cuda if available)",
    )
    sp.add_argument("--allow-no-face", action="store_true", help="dub even if no face is seen")
    add_fit_options(sp)
    add_crf_option(sp)
    add_face_option(sp)
    add_quality_options(sp)
    sp.add_argument(
        "--opt",
        action="append",
        metavar="SLOT.KEY=VALUE",
        help="component option (repeatable), e.g. --opt transcriber.model=small "
        "--opt voice.words_per_minute=160",
    )
    sp.add_argument(
        "--review",
        action="store_true",
        help="stop after the speech and open the review page (needs lipdub[review]): "
        "fix lines, listen, then finish the dub there",
    )
    sp.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    add_offline(sp)
