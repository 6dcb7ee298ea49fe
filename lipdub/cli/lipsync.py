"""``lipdub lipsync``: lip-sync a video or portrait to an audio file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lipdub.cli._args import (
    VIDEO_SUFFIXES,
    add_command,
    check_device,
    device_arg,
    number,
    output_arg,
)
from lipdub.cli._components import (
    add_checkpoint_option,
    add_precision_option,
    add_slot_options,
    component_specs,
)
from lipdub.cli._render import ProgressRenderer, echo
from lipdub.errors import InputError

# add_precision_option lived here: kept importable from this module
__all__ = ["add_precision_option", "announce_preparation", "register"]

#: The stages a lip-syncer's one-time preparation reports (their time is printed once).
PREPARE_STAGES = ("build int8", "precision")


def announce_preparation(on_event: Any) -> Any:
    """``on_event`` that also prints, once each, the time of a lip-syncer's one-time
    work (the int8 build, the ``auto`` measurement) as it finishes."""
    from lipdub.events import Event, StageFinished

    def callback(event: Event) -> None:
        on_event(event)
        if isinstance(event, StageFinished) and event.stage in PREPARE_STAGES:
            sys.stderr.write(f"{event.stage}: {event.detail} ({event.elapsed_s:.1f} s)\n")
            sys.stderr.flush()

    return callback


def _components(args: argparse.Namespace) -> tuple[Any, Any]:
    """The lip-syncer (any registered name, with ``--opt lipsyncer.KEY=V``,
    ``--checkpoint`` and ``--precision``) and the face detector."""
    from lipdub import registry

    specs = component_specs(args)
    syncer = registry.resolve("lipsyncer", specs["lipsyncer"])
    if args.device:
        syncer = syncer.to(args.device)
    return syncer, registry.resolve("detector", specs["detector"])


def cmd_lipsync(args: argparse.Namespace) -> int:
    from lipdub import registry
    from lipdub._io import same_file
    from lipdub.lipsync.engine import lipsync
    from lipdub.media import load_audio, probe

    if same_file(args.face, args.output) or same_file(args.audio, args.output):
        raise InputError(
            "the output would overwrite an input of the lip-sync",
            path=Path(args.output),
            hint="choose another output name (-o)",
        )
    check_device(args.device)
    syncer, detector = _components(args)
    probe(args.face)  # a missing or unreadable face file fails before any model loads
    separator = registry.resolve("separator", args.isolate_voice) if args.isolate_voice else None
    from lipdub.media.speech_spans import detect_speech_spans

    driving: Any = load_audio(args.audio, 16000)
    # speech is found on the audio as given: a separator may use the spans, and its
    # voice stem can be near silent where the mix is loud
    found = detect_speech_spans(driving)
    spans = None if args.all_frames else found
    if separator is not None:
        driving = separator.separate(driving, found).voice
    with ProgressRenderer(not args.quiet) as progress:
        result = lipsync(
            args.face,
            driving,
            args.output,
            output_audio=args.audio,
            syncer=syncer,
            detector=detector,
            fps=args.fps,
            batch_size=args.batch_size,
            pads=tuple(args.pads),
            audio_longer=args.audio_longer,
            audio_shorter=args.audio_shorter,
            require_face=not args.allow_no_face,
            speech_spans=spans,
            on_event=announce_preparation(progress),
        )
    echo(f"wrote {result.output} ({result.duration_s:.2f} s, {result.frames_total} frames)")
    if spans is not None:
        speech_s = sum(b - a for a, b in spans)
        echo(
            f"speech: {speech_s:.2f} s of {driving.duration_s:.2f} s in {len(spans)} span(s)"
            + ("" if spans else " (no speech found: the video is left unchanged)")
        )
    echo(
        f"frames: {result.frames_synced} lip-synced, {result.frames_no_face} without a face, "
        f"{result.frames_outside_speech} outside speech (left unchanged)"
    )
    return 0


def register(sub: Any) -> None:
    """Add this module's subcommand(s) to the ``lipdub`` parser."""
    sp = add_command(sub, "lipsync", cmd_lipsync, "lip-sync a video or portrait to an audio file")
    sp.add_argument("--face", required=True, help="video or still image")
    sp.add_argument("--audio", required=True, help="speech audio (any format)")
    sp.add_argument(
        "-o",
        "--output",
        required=True,
        type=output_arg(VIDEO_SUFFIXES, "a video"),
        help=f"output video: {', '.join(VIDEO_SUFFIXES)}",
    )
    add_slot_options(sp, ["lipsyncer", "detector"])
    add_checkpoint_option(sp)
    sp.add_argument(
        "--opt",
        action="append",
        metavar="SLOT.KEY=VALUE",
        help="component option (repeatable), e.g. --opt lipsyncer.min_psnr_db=38 or "
        "--opt detector.score_threshold=0.6",
    )
    sp.add_argument(
        "--device",
        type=device_arg,
        help="auto, cpu, cuda or cuda:N (default: auto, cuda if available)",
    )
    add_precision_option(sp)
    sp.add_argument(
        "--batch-size",
        type=number(1, 4096, integer=True),
        help="face crops per model call, 1 to 4096 (default: from the device's memory)",
    )
    sp.add_argument(
        "--pads",
        type=number(-1000, 1000, integer=True),
        nargs=4,
        default=[0, 10, 0, 0],
        metavar=("T", "B", "L", "R"),
        help="pixels added to the face box: top bottom left right (default: 0 10 0 0)",
    )
    sp.add_argument(
        "--fps",
        type=number(1, 240),
        help="output frame rate, 1 to 240 (default: the video's own; 25 for a still image)",
    )
    sp.add_argument("--offline", action="store_true", help="never download weights")
    sp.add_argument(
        "--allow-no-face", action="store_true", help="write the video even if no face is found"
    )
    sp.add_argument(
        "--isolate-voice",
        nargs="?",
        const="spectral",
        metavar="SEPARATOR",
        help="drive the lips with the voice separated from music/noise (default separator: "
        "spectral); the output keeps the full audio",
    )
    sp.add_argument(
        "--audio-longer",
        choices=["pingpong", "loop"],
        default="pingpong",
        help="when the audio outlasts the video: play it back and forth, or loop it",
    )
    sp.add_argument(
        "--audio-shorter",
        choices=["trim", "keep"],
        default="trim",
        help="when the video outlasts the audio: cut it, or keep the rest unchanged",
    )
    sp.add_argument(
        "--all-frames",
        action="store_true",
        help="lip-sync every frame; by default frames where the audio has no speech "
        "(silence, quiet noise) are left unchanged",
    )
    sp.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
