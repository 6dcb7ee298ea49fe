"""``lipdub eval``: is a video's lip-sync right? Offset, LSE-D, LSE-C with SyncNet; the
mouth's sharpness and stability; ``--compare`` sets two dubs side by side."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from lipdub.cli._args import (
    add_command,
    add_offline,
    check_device,
    device_arg,
    number,
    output_arg,
)
from lipdub.cli._render import ProgressRenderer, echo

__all__ = ["register"]


def _workdir(args: argparse.Namespace) -> Path | None:
    if args.workdir:
        return Path(args.workdir)
    for base in (args.reference, args.video):
        if base:
            candidate = Path(base).with_name(f"{Path(base).name}.lipdub")
            if candidate.is_dir():
                return candidate
    return None


def _text(report: Any) -> list[str]:
    s = report.sync
    lines = [
        f"{report.video}: {report.frames} frames at 25 fps ({report.mode} crops), "
        f"face in {report.face_share:.0%} of frames",
        f"offset: {s.offset_frames:+d} frames ({s.offset_ms:+.0f} ms)",
        f"LSE-D: {s.lse_d:.3f} (lower is better)   LSE-C: {s.lse_c:.3f} (higher is better)",
        "confidence per second: " + " ".join(f"{v:.2f}" for v in s.confidence_per_second()),
    ]
    for face in report.faces:
        fs = face["sync"]
        where = (
            ""
            if face["box"] is None
            else " at ({:.0f},{:.0f})-({:.0f},{:.0f})".format(*face["box"])
        )
        if fs is None:
            lines.append(f"face {face['id']}{where}: too few frames to score")
            continue
        lines.append(
            f"face {face['id']}{where}, in {face['face_share']:.0%} of frames: offset "
            f"{fs['offset_frames']:+d} frames, LSE-D {fs['lse_d']:.3f}, LSE-C {fs['lse_c']:.3f}"
        )
    if report.reference:
        r = report.reference
        lines.append(
            f"outside the mouth vs reference ({r['frames']} frames): "
            f"PSNR {r['psnr_db_mean']:.2f} dB "
            f"(min {r['psnr_db_min']:.2f}), SSIM {r['ssim_mean']:.4f} (min {r['ssim_min']:.4f})"
        )
    lines.extend(_mouth_text(report))
    for lang, t in report.timing.items():
        lines.append(
            f"timing {lang}: {t['lines']} lines, start error mean {t['start_error_s_mean']:.3f} s "
            f"max {t['start_error_s_max']:.3f} s, {t['overflowing']} overflowing, "
            f"{t['delayed']} delayed, {t['cut']} cut"
        )
        if t.get("quality"):
            lines.extend(_quality_text(lang, t["quality"]))
    return lines


def _mouth_text(report: Any) -> list[str]:
    m = report.mouth
    if m is None:
        return ["mouth sharpness and stability: not measured (a --cropped input has no face box)"]
    if m.sharpness is not None:
        sharp = (
            f"mouth sharpness: {m.sharpness:.3f} of the source's "
            f"(1 as sharp, lower softer; {m.frames} frames)"
        )
    elif m.source_detail is None:
        sharp = "mouth sharpness: needs --reference ORIGINAL (the video that was lip-synced)"
    else:
        sharp = "mouth sharpness: not measured (the source's mouth shows no detail above its noise)"
    if m.jitter is None:
        still = (
            "mouth jitter in silence: not measured (no silence of 0.44 s or more "
            "in the audio, with a face)"
        )
    else:
        source = "" if m.source_jitter is None else f"; the source's {m.source_jitter:.2f}"
        still = (
            f"mouth jitter in silence: {m.jitter:.2f} grey levels per frame "
            f"(lower is steadier{source}; {m.silent_pairs} frame pairs)"
        )
    return [sharp, still]


def _check_compare(args: argparse.Namespace) -> None:
    from lipdub.errors import InputError

    if args.compare and args.video:
        raise InputError(
            f"give VIDEO or --compare A B, not both (got {args.video!r} and --compare)",
            hint="lipdub eval --compare A.mp4 B.mp4 --reference ORIGINAL",
        )
    if not args.compare and not args.video:
        raise InputError(
            "no video to score", hint="lipdub eval VIDEO, or lipdub eval --compare A B"
        )
    if not args.compare:
        return
    for flag, given in (
        ("--cropped", args.cropped),
        ("--plot", args.plot),
        ("--workdir", args.workdir),
    ):
        if given:
            raise InputError(
                f"{flag} does not go with --compare (it measures the tracked face of each "
                "video and prints one table of the mouth, sync and outside-mouth figures)",
                hint=f"drop {flag}, or score each video alone",
            )
    if not args.reference:
        raise InputError(
            "--compare needs --reference ORIGINAL: sharpness and the outside-mouth PSNR are "
            "measured against the video both were dubbed from",
            hint="lipdub eval --compare A.mp4 B.mp4 --reference ORIGINAL.mp4",
        )


def _table(reports: list[Any]) -> list[str]:
    from lipdub.eval.side_by_side import comparison_rows

    names = [chr(ord("A") + i) for i in range(len(reports))]
    lines = [f"{n} = {r.video}" for n, r in zip(names, reports, strict=True)]
    rows = comparison_rows(reports)
    width = max(len(r.label) for r in rows)
    cols = [max(8, *(len(r.values[i]) for r in rows)) for i in range(len(reports))]
    head = " ".join(n.rjust(c) for n, c in zip(names, cols, strict=True))
    lines.append(f"{'':<{width}}  {head}")
    for r in rows:
        cells = " ".join(v.rjust(c) for v, c in zip(r.values, cols, strict=True))
        lines.append(f"{r.label:<{width}}  {cells}   {r.note}")
    return lines


def _num(value: Any, spec: str = ".3f") -> str:
    return "n/a" if value is None else format(value, spec)


def _quality_text(lang: str, q: dict[str, Any]) -> list[str]:
    """The quality summary of one language: means, per speaker, flagged and worst lines."""
    if not q["checked"]:
        return [f"quality {lang}: not checked ({'; '.join(q['not_measured']) or 'no record'})"]
    models = f" (Whisper {', '.join(q['models'])})" if q["models"] else ""
    out = [
        f"quality {lang}: {q['checked']} of {q['lines']} lines checked, CER mean "
        f"{_num(q['cer_mean'])}, WER mean {_num(q['wer_mean'])}{models}; {q['retried']} "
        f"retried ({q['kept_retake']} retakes kept), {len(q['flagged'])} flagged review"
    ]
    for label, s in q["speakers"].items():
        out.append(
            f"  speaker {label}: {s['lines']} lines, CER mean {_num(s['cer_mean'])}, "
            f"similarity to own reference {_num(s['similarity_mean'])}"
        )
    for f in q["flagged"]:
        out.append(f"  review #{f['index']}: {'; '.join(f['problems'])}: {f['text'][:60]!r}")
    for w in q["worst"]:
        out.append(
            f"  worst #{w['index']}: CER {_num(w['cer'])}, similarity {_num(w['similarity'])}"
            f": {w['text'][:60]!r}"
        )
    for reason in q["not_measured"]:
        out.append(f"  not measured: {reason}")
    return out


def cmd_eval(args: argparse.Namespace) -> int:
    from lipdub import registry
    from lipdub.eval import SyncNetScorer, evaluate_video
    from lipdub.eval.report import check_eval_inputs
    from lipdub.hub import resolve_weights

    check_device(args.device)
    _check_compare(args)
    videos = list(args.compare) if args.compare else [args.video]
    # a missing or unreadable file, or one declaring more than the limits (a sound
    # track said to start 10 hours in), fails from its header before any model loads
    for video in videos:
        check_eval_inputs(video, audio=args.audio)
    weights = resolve_weights(
        args.weights,
        hint="lipdub weights download syncnet_v2, or --weights FILE (a local syncnet_v2.model)",
    )
    scorer = SyncNetScorer(
        weights, device=args.device, batch_size=args.batch_size, vshift=args.vshift
    )
    detector = None if args.cropped else registry.resolve("detector", args.detector)
    if args.compare:
        return _compare(args, scorer, detector)
    with ProgressRenderer(not args.quiet and not args.json) as progress:
        report = evaluate_video(
            args.video,
            scorer,
            audio=args.audio,
            detector=detector,
            cropped=args.cropped,
            reference=args.reference,
            workdir=_workdir(args),
            on_event=progress,
        )
    if args.plot:
        import cv2

        from lipdub.eval.report import draw_curve

        assert report.sync is not None
        image = draw_curve(report.sync.confidence_per_second())
        if not cv2.imwrite(args.plot, image):
            raise OSError(f"cannot write {args.plot}")
    if args.json:
        echo(json.dumps(report.to_dict(), indent=2))
    else:
        for line in _text(report):
            echo(line)
    return 0


def _compare(args: argparse.Namespace, scorer: Any, detector: Any) -> int:
    from lipdub.eval.side_by_side import compare_videos, comparison_to_dict

    with ProgressRenderer(not args.quiet and not args.json) as progress:
        reports = compare_videos(
            args.compare,
            scorer,
            reference=args.reference,
            detector=detector,
            audio=args.audio,
            on_event=progress,
        )
    if args.json:
        echo(json.dumps(comparison_to_dict(reports, args.reference), indent=2))
    else:
        for line in _table(reports):
            echo(line)
    return 0


def register(sub: Any) -> None:
    """Add this module's subcommand(s) to the ``lipdub`` parser."""
    sp = add_command(
        sub,
        "eval",
        cmd_eval,
        "score a video's lip-sync: A/V offset, LSE-D, LSE-C (SyncNet), the mouth's sharpness "
        "and jitter; --compare sets two dubs side by side",
    )
    sp.add_argument(
        "video", metavar="VIDEO", nargs="?", help="the video to score (e.g. a lipdub output)"
    )
    sp.add_argument(
        "--compare",
        nargs=2,
        metavar=("A", "B"),
        help="two dubs of the same source side by side (needs --reference ORIGINAL): "
        "mouth sharpness and jitter, LSE-D/LSE-C, offset, PSNR/SSIM outside the mouth",
    )
    sp.add_argument("--audio", help="score against this audio instead of the video's own track")
    sp.add_argument(
        "--reference",
        metavar="ORIGINAL",
        help="the original video: adds PSNR/SSIM outside the mouth region and the "
        "mouth's sharpness against it",
    )
    sp.add_argument(
        "--workdir",
        help="lipdub work directory for the dub timing summary "
        "(default: ORIGINAL.lipdub or VIDEO.lipdub when it exists)",
    )
    sp.add_argument("--json", action="store_true", help="print the report as JSON")
    sp.add_argument(
        "--plot",
        metavar="PNG",
        type=output_arg([".png"], "--plot"),
        help="draw the per-second confidence curve to this PNG file",
    )
    sp.add_argument(
        "--weights",
        default="syncnet_v2",
        help="syncnet_v2.model file or catalogue name (default: syncnet_v2)",
    )
    sp.add_argument(
        "--cropped",
        action="store_true",
        help="VIDEO is already a face crop: score its frames resized to 224x224",
    )
    sp.add_argument(
        "--detector",
        default="retinaface",
        help="face detector for the crops: retinaface (default), s3fd, haar",
    )
    sp.add_argument(
        "--device",
        type=device_arg,
        help="auto, cpu, cuda or cuda:N (default: auto, cuda if available)",
    )
    sp.add_argument(
        "--batch-size",
        type=number(1, 4096, integer=True),
        default=20,
        help="5-frame windows per network call, 1 to 4096 (default: 20)",
    )
    sp.add_argument(
        "--vshift",
        type=number(0, 100, integer=True),
        default=15,
        help="offsets searched, in frames each way, 0 to 100 (default: 15)",
    )
    sp.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    add_offline(sp)
