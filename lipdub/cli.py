"""The ``lipdub`` command line. The only module that prints or draws progress.

Each subcommand is a thin wrapper over one public SDK call. A :class:`LipdubError`
prints one line (``error: ...``) and exits with status 1; ``--verbose`` shows the
traceback. Arguments are checked before any work (output extensions, finite numbers in
range, devices, ``--opt`` keys); a usage error is one ``error:`` line with status 2. An
``OSError`` from the file system is one line naming the file. Any other exception is a
bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from lipdub._version import __version__
from lipdub.errors import InputError, LipdubError
from lipdub.events import Event, Progress, StageFinished, StageStarted, StageWarning

__all__ = ["main"]

EXIT_ERROR = 1
EXIT_USAGE = 2


# --------------------------------------------------------------------------- helpers


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _options(pairs: Sequence[str] | None) -> dict[str, Any]:
    """``["model=tiny", "beam_size=5"]`` -> ``{"model": "tiny", "beam_size": 5}``."""
    out: dict[str, Any] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"--opt takes KEY=VALUE, got {pair!r}")
        out[key.strip().replace("-", "_")] = _parse_value(value)
    return out


# ----------------------------------------------------------------- argument checks

#: Containers the video writer (H.264 + AAC) can fill.
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv")
#: Audio files ``lipdub speak`` can write (``.wav`` directly, the rest via PyAV).
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".m4a", ".aac", ".ogg", ".opus")
TRANSCRIPT_SUFFIXES = (".json", ".srt", ".vtt")


class _OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one ``error:`` line (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"error: {self.prog}: {message} (see `{self.prog} --help`)\n")


def _number(
    lo: float | None = None,
    hi: float | None = None,
    *,
    integer: bool = False,
    lo_open: bool = False,
) -> Callable[[str], Any]:
    """An argparse ``type=``: a finite int/float within ``[lo, hi]`` (``(lo, hi]``)."""

    def parse(text: str) -> int | float:
        try:
            value: int | float = int(text) if integer else float(text)
        except ValueError:
            kind = "a whole number" if integer else "a number"
            raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        low_ok = lo is None or (value > lo if lo_open else value >= lo)
        if not low_ok or (hi is not None and value > hi):
            left = "(" if lo_open else "["
            raise argparse.ArgumentTypeError(f"{text} is outside {left}{lo}, {hi}]")
        return value

    parse.__name__ = "integer" if integer else "number"
    return parse


def _device(text: str) -> str | None:
    """``auto`` (None: CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``."""
    value = text.strip().lower()
    if value == "auto":
        return None
    if value in ("cpu", "cuda"):
        return value
    head, sep, index = value.partition(":")
    if head == "cuda" and sep and index.isdigit():
        return f"cuda:{int(index)}"
    raise argparse.ArgumentTypeError(f"expected auto, cpu, cuda or cuda:N, got {text!r}")


def _check_device(device: str | None) -> None:
    """Refuse a CUDA device this machine does not have (before any model loads)."""
    if device is None or not device.startswith("cuda"):
        return
    import torch

    if not torch.cuda.is_available():
        raise InputError(
            f"--device {device}: no CUDA GPU is available to this torch build "
            f"({torch.__version__})",
            hint="use --device cpu, or leave --device out to pick automatically",
        )
    index = int(device.partition(":")[2] or 0)
    count = torch.cuda.device_count()
    if index >= count:
        raise InputError(
            f"--device {device}: this machine has {count} CUDA device(s), cuda:0 to "
            f"cuda:{count - 1}",
        )


def _writable_target(path: Path) -> None:
    """Raise ArgumentTypeError unless a file can be created at ``path``."""
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a folder; name the output file")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(f"{path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{path}: cannot write in {parent} (permission denied)")


def _output(suffixes: Sequence[str], what: str) -> Callable[[str], str]:
    """An argparse ``type=`` for an output file of one of ``suffixes``."""

    def parse(text: str) -> str:
        path = Path(text)
        _writable_target(path)
        if path.suffix.lower() not in suffixes:
            got = f"{path.suffix!r}" if path.suffix else "no extension"
            raise argparse.ArgumentTypeError(
                f"{text}: cannot write {what} with {got}; use {', '.join(suffixes)}"
            )
        return text

    parse.__name__ = f"{what} file"
    return parse


def _read_text_file(path_text: str, option: str) -> str:
    """The text of a user's file: UTF-8 (BOM or not) or UTF-16 with a BOM."""
    path = Path(path_text)
    if not path.exists():
        raise InputError(f"{option}: no such file", path=path)
    if path.is_dir():
        raise InputError(f"{option}: is a folder, not a text file", path=path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"{option}: cannot read it: {e.strerror or e}", path=path) from e
    encoding = "utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        raise InputError(
            f"{option}: not {encoding.upper().replace('-SIG', '')} text (byte "
            f"0x{data[e.start]:02x} at offset {e.start} cannot be decoded)",
            path=path,
            hint="save the file as UTF-8",
        ) from e
    if "\x00" in text:
        raise InputError(
            f"{option}: holds NUL characters (UTF-16 without a byte-order mark?)",
            path=path,
            hint="save the file as UTF-8",
        )
    return text


def _load_transcript(path_text: str, language: str | None) -> Any:
    """``Transcript.load`` with any failure on the file's content as one InputError."""
    from lipdub.types import Transcript

    path = Path(path_text)
    if not path.exists():
        raise InputError("no such transcript file", path=path)
    if path.is_dir():
        raise InputError("is a folder, not a transcript file", path=path)
    try:
        return Transcript.load(path, language=language)
    except LipdubError:
        raise
    except UnicodeDecodeError as e:
        raise InputError(
            f"not UTF-8 text (byte offset {e.start})", path=path, hint="save the file as UTF-8"
        ) from e
    except RecursionError as e:
        raise InputError("not a transcript: its JSON is nested too deeply", path=path) from e
    except (ValueError, TypeError, AttributeError, KeyError, IndexError) as e:
        raise InputError(
            f"not a lipdub transcript ({type(e).__name__}: {e})",
            path=path,
            hint='expected {"language": ..., "segments": [{"start_s", "end_s", "text"}, ...]}',
        ) from e


def _check_options(kind: Any, name: str, opts: dict[str, Any], flag: str = "--opt") -> None:
    """Refuse ``--opt`` keys the backend's constructor does not take, listing those it does."""
    if not opts:
        return
    from lipdub import registry

    valid = registry.option_names(kind, name)
    if valid is None:
        return
    unknown = sorted(set(opts) - set(valid))
    if unknown:
        raise InputError(
            f"{flag}: the {kind} backend {name!r} has no option "
            f"{', '.join(repr(k) for k in unknown)}",
            backend=name,
            hint=f"its options: {', '.join(valid) or 'none'}",
        )


def _check_workdir(text: str | None) -> None:
    if text is None:
        return
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise InputError("--workdir: is a file, not a folder", path=path)
    parent = path
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"--workdir: {parent} is a file, not a folder", path=path)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"--workdir: cannot write in {parent} (permission denied)", path=path)


class ProgressRenderer:
    """Draws lipdub events as rich progress bars on stderr and keeps a stage summary."""

    def __init__(self, enabled: bool = True) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import (
            Progress as RichProgress,
        )

        self.console = Console(stderr=True)
        self.enabled = enabled and self.console.is_terminal
        self._progress = RichProgress(
            TextColumn("[bold]{task.description:<12}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[unit]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self._tasks: dict[str, Any] = {}
        self.finished: list[StageFinished] = []
        self.warnings: list[StageWarning] = []
        self._started = False

    def __enter__(self) -> ProgressRenderer:
        if self.enabled:
            self._progress.start()
            self._started = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._started:
            self._progress.stop()

    def __call__(self, event: Event) -> None:
        if isinstance(event, StageStarted):
            if self.enabled:
                self._tasks[event.stage] = self._progress.add_task(
                    event.stage, total=event.total, unit=event.unit
                )
        elif isinstance(event, Progress):
            task = self._tasks.get(event.stage)
            if task is not None:
                self._progress.update(task, completed=event.done, total=event.total)
        elif isinstance(event, StageFinished):
            self.finished.append(event)
            task = self._tasks.pop(event.stage, None)
            if task is not None:
                t = self._progress.tasks[task].total
                self._progress.update(task, completed=t if t is not None else 1, total=t or 1)
        elif isinstance(event, StageWarning):
            # lipdub logs every warning it emits as an event; logging prints it.
            self.warnings.append(event)

    def summary(self) -> str:
        """Time per stage, with reused stages marked."""
        lines = []
        for e in self.finished:
            how = "reused" if e.reused else f"{e.elapsed_s:7.1f} s"
            lines.append(f"  {e.stage:<14} {how}" + (f"  {e.detail}" if e.detail else ""))
        return "\n".join(lines)


def _one_line(text: str) -> str:
    return " ".join(text.split("\n")).strip()


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


# --------------------------------------------------------------------------- commands


def cmd_probe(args: argparse.Namespace) -> int:
    from lipdub.media import probe

    _out(probe(args.file).describe())
    return 0


def cmd_voices(args: argparse.Namespace) -> int:
    from lipdub import registry

    opts = _options(args.opt)
    _check_options("voice", args.backend, opts)
    synth = registry.resolve("voice", args.backend, **opts)
    voices = synth.list_voices(args.lang)
    if not voices:
        raise InputError(
            f"the {args.backend} backend has no voice for language {args.lang!r}",
            backend=args.backend,
            hint="run `lipdub voices` without --lang to see all",
        )
    from rich.console import Console
    from rich.table import Table

    table = Table("name", "languages", "gender", "rate (Hz)", "family")
    for v in voices:
        table.add_row(
            v.name,
            ", ".join(v.language_codes),
            v.gender,
            str(v.natural_sample_rate_hz or ""),
            v.family or "",
        )
    Console().print(table)
    return 0


def _save_audio(clip: Any, output: str) -> None:
    if output.lower().endswith(".wav"):
        clip.save_wav(output)
    else:
        from lipdub.media import write_audio

        write_audio(output, clip)


def cmd_speak(args: argparse.Namespace) -> int:
    from lipdub import registry
    from lipdub.limits import Limits
    from lipdub.types import check_segments_within

    opts = _options(args.opt)
    _check_options("voice", args.backend, opts)
    synth = registry.resolve("voice", args.backend, **opts)
    if not args.text.strip():
        raise InputError("nothing to speak: the text is empty", hint="pass some text")
    source = Path(args.text)
    if args.text.lower().endswith((".json", ".srt", ".vtt")) and source.exists():
        from lipdub.dub.timing import speak_transcript

        transcript = _load_transcript(args.text, args.lang)
        limit = Limits.from_env().max_audio_duration_s
        check_segments_within(
            transcript,
            limit,
            source=source,
            what=f"the longest audio lipdub makes ({Limits.env_var('max_audio_duration_s')})",
            tolerance_s=0.0,
        )
        for i in transcript.blank_segments():
            logging.getLogger("lipdub.cli").warning(
                "%s: segment %d has no text; it is skipped (silence)", source, i
            )
        clip, report = speak_transcript(
            synth, transcript, voice=args.voice, sample_rate_hz=args.sample_rate
        )
        _save_audio(clip, args.output)
        _out(f"wrote {args.output} ({clip.duration_s:.2f} s, {len(transcript)} segments)")
        for line in report.describe().splitlines():
            _out(line)
        return 0
    clip = synth.synthesize(args.text, voice=args.voice, language=args.lang, rate=args.rate)
    if args.sample_rate:
        clip = clip.resample(args.sample_rate)
    _save_audio(clip, args.output)
    _out(f"wrote {args.output} ({clip.duration_s:.2f} s at {clip.sample_rate_hz} Hz)")
    return 0


def cmd_transcribe(args: argparse.Namespace) -> int:
    from lipdub import registry
    from lipdub.media import load_audio

    opts = _options(args.opt)
    if args.model:
        opts["model"] = args.model
    _check_options("transcriber", args.backend, opts)
    transcriber = registry.resolve("transcriber", args.backend, **opts)
    audio = load_audio(args.input, 16000)
    transcript = transcriber.transcribe(audio, language=args.lang)
    output = args.output or str(Path(args.input).with_suffix(f".{transcript.language}.json"))
    transcript.save(output)
    _out(f"wrote {output} ({len(transcript)} segments, language {transcript.language})")
    return 0


def cmd_translate(args: argparse.Namespace) -> int:
    from lipdub import registry

    opts = _options(args.opt)
    _check_options("translator", args.backend, opts)
    transcript = _load_transcript(args.transcript, args.source)
    translator = registry.resolve("translator", args.backend, **opts)
    translated = translator.translate_transcript(transcript, args.to)
    output = args.output or str(Path(args.transcript).with_suffix(f".{args.to}.json"))
    translated.save(output)
    _out(f"wrote {output} ({len(translated)} segments, {transcript.language} -> {args.to})")
    return 0


def _lipsyncer(args: argparse.Namespace) -> Any:
    from lipdub.lipsync.wav2lip import Wav2LipSyncer

    return Wav2LipSyncer.from_pretrained(
        args.checkpoint or args.model, device=args.device, local_files_only=args.offline
    )


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
    syncer = _lipsyncer(args)
    _check_device(args.device)
    probe(args.face)  # a missing or unreadable face file fails before any model loads
    detector = registry.resolve("detector", args.detector)
    separator = registry.resolve("separator", args.isolate_voice) if args.isolate_voice else None
    from lipdub.media.speech_spans import detect_speech_spans

    driving: Any = load_audio(args.audio, 16000)
    # speech is found on the audio as given: a separator may use the spans, and its
    # voice stem can be near silent where the mix is loud
    found = detect_speech_spans(driving)
    spans = None if args.all_frames else found
    syncer = _lipsyncer(args)
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
            on_event=progress,
        )
    _out(f"wrote {result.output} ({result.duration_s:.2f} s, {result.frames_total} frames)")
    if spans is not None:
        speech_s = sum(b - a for a, b in spans)
        _out(
            f"speech: {speech_s:.2f} s of {driving.duration_s:.2f} s in {len(spans)} span(s)"
            + ("" if spans else " (no speech found: the video is left unchanged)")
        )
    _out(
        f"frames: {result.frames_synced} lip-synced, {result.frames_no_face} without a face, "
        f"{result.frames_outside_speech} outside speech (left unchanged)"
    )
    return 0


def cmd_dub(args: argparse.Namespace) -> int:
    from lipdub.dub.options import DubOptions
    from lipdub.dub.pipeline import DubbingPipeline

    _check_device(args.device)
    _check_workdir(args.workdir)
    text = _read_text_file(args.text_file, "--text-file") if args.text_file else args.text
    voice_map = {}
    for pair in (args.voice_map or "").split(","):
        if pair.strip():
            speaker, sep, voice = pair.partition("=")
            if not sep:
                raise InputError(f"--voice-map takes SPEAKER=VOICE pairs, got {pair!r}")
            voice_map[speaker.strip()] = voice.strip()
    slots: dict[str, dict[str, Any]] = {
        s: {} for s in ("transcriber", "translator", "voice", "detector", "lipsyncer")
    }
    for key, value in _options(args.opt).items():
        slot, dot, name = key.partition(".")
        slot = "voice" if slot == "tts" else slot
        if not dot or slot not in slots:
            raise InputError(
                f"--opt for dub takes SLOT.KEY=VALUE with SLOT one of {', '.join(slots)}; "
                f"got {key!r}"
            )
        slots[slot][name] = value
    if args.checkpoint:
        slots["lipsyncer"]["name_or_path"] = args.checkpoint
    names = {
        "transcriber": args.transcriber,
        "translator": args.translator,
        "voice": args.tts,
        "detector": args.detector,
        "lipsyncer": args.model,
    }
    for slot, opts in slots.items():
        _check_options(slot, names[slot], opts, flag=f"--opt {slot}.*")
    specs: dict[str, Any] = {
        slot: (names[slot], opts) if opts else names[slot] for slot, opts in slots.items()
    }
    pipeline = DubbingPipeline(
        transcriber=specs["transcriber"],
        translator=specs["translator"],
        voice=specs["voice"],
        detector=specs["detector"],
        lipsyncer=specs["lipsyncer"],
        device=args.device,
    )
    options = DubOptions(
        keep_background=args.keep_background,
        subtitles=tuple(s for s in args.subtitles.split(",") if s),
        voice_map=voice_map,
        allow_no_face=args.allow_no_face,
        burn_subtitles=args.burn_subtitles,
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
            stop_after=args.stop_after,
            text=text,
            transcript=args.transcript,
            translation=args.translation,
            redo=_stage_list(args.redo),
            keep=_stage_list(args.keep),
            options=options,
            on_event=progress,
        )
    for result in results:
        if len(results) > 1 and result.translation is not None:
            _out(f"[{result.translation.language}]")
        _out(result.describe())
    wall = time.perf_counter() - t0
    staged = sum(v for r in results[:1] for v in r.timings.values())
    staged += sum(v for r in results[1:] for k, v in r.timings.items() if k not in _SHARED_STAGES)
    _out(
        f"wall time {wall:.1f} s: stages {staged:.1f} s, start-up and model loading "
        f"{max(0.0, wall - staged):.1f} s"
    )
    return 0


_SHARED_STAGES = frozenset({"extract", "transcribe", "separate", "track"})


def _stage_list(values: list[str] | None) -> list[str]:
    return [s.strip() for v in values or () for s in v.split(",") if s.strip()]


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
            _out(f"{spec.name}: {path}")
        return 0
    if args.action == "convert":
        if not args.input or not args.output:
            raise InputError("usage: lipdub weights convert IN OUT.safetensors [--half]")
        out = hub.convert_weights(args.input, args.output, half=args.half)
        _out(f"wrote {out}")
        return 0
    _out(f"{'name':<34} {'size':>10}  {'revision':<16} {'sha256':<8} {'cache':<12} repo")
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
        _out(f"{spec.name:<34} {spec.size_text():>10}  {rev:<16} {sha:<8} {state:<12} {where}")
    for pattern, what in hub.PATTERNS:
        _out(f"{pattern:<34} {'':>10}  {'':<16} {'':<8} {'':<12} {what}")
    return 0


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for ``lipdub`` (exposed for documentation and tests)."""
    p = _OneLineParser(
        prog="lipdub",
        description="Dub a video into another language and re-sync the speaker's lips.",
    )
    p.add_argument("--version", action="version", version=f"lipdub {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log details and show tracebacks")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def add(
        name: str, fn: Callable[[argparse.Namespace], int], help: str
    ) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help, description=help)
        sp.set_defaults(func=fn)
        sp.add_argument(
            "-v",
            "--verbose",
            action="store_true",
            default=argparse.SUPPRESS,
            help=argparse.SUPPRESS,
        )
        return sp

    def opt(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--opt",
            action="append",
            metavar="KEY=VALUE",
            help="backend constructor option (repeatable), e.g. --opt compute_type=int8",
        )

    def offline(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--offline",
            action="store_true",
            help="never download models: use the Hugging Face cache only (like HF_HUB_OFFLINE=1)",
        )

    sp = add("probe", cmd_probe, "print what a video or image file holds")
    sp.add_argument("file", help="a video, image or audio file")

    sp = add("dub", cmd_dub, "translate a video's speech and lip-sync the speaker")
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
        type=_output(VIDEO_SUFFIXES, "a video"),
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
        "separate, mix, track, lipsync, subtitles); your edited files of it are first "
        "moved aside to a timestamped .bak",
    )
    sp.add_argument(
        "--keep",
        action="append",
        metavar="STAGE",
        help="keep your edit of this stage's file (transcribe, translate) even though "
        "what it was made from changed",
    )
    sp.add_argument("--voice", help="voice name (see `lipdub voices`)")
    sp.add_argument("--voice-map", help="per-speaker voices: A=voice1,B=voice2")
    sp.add_argument(
        "--transcriber",
        default="whisper",
        help="whisper (default; model small, change with --opt transcriber.model=base), "
        "google, ...",
    )
    sp.add_argument(
        "--translator",
        default="opus",
        help="opus (default; the OPUS-MT model for the language pair), google, identity, ...",
    )
    sp.add_argument(
        "--tts", default="espeak", help="voice backend: espeak (default), piper, google"
    )
    sp.add_argument("--detector", default="retinaface", help="retinaface (default), s3fd, haar")
    sp.add_argument(
        "--model",
        default="wav2lip_gan",
        choices=["wav2lip", "wav2lip_gan"],
        help="lip-sync model (default wav2lip_gan)",
    )
    sp.add_argument("--checkpoint", help="local Wav2Lip checkpoint instead of the Hub download")
    sp.add_argument("--workdir", help="where stage artifacts go (default: INPUT.lipdub/)")
    sp.add_argument(
        "--stop-after",
        choices=["transcribe", "translate", "speak", "lipsync"],
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
    sp.add_argument("--subtitles", default="srt", help="comma list of srt,vtt ('' for none)")
    sp.add_argument(
        "--burn-subtitles", action="store_true", help="draw the target subtitles into the video"
    )
    sp.add_argument("--text", help="speak this text instead of transcribing")
    sp.add_argument("--text-file", help="speak this file's text instead of transcribing")
    sp.add_argument(
        "--device",
        type=_device,
        help="auto, cpu, cuda or cuda:N (default: auto, cuda if available)",
    )
    sp.add_argument("--allow-no-face", action="store_true", help="dub even if no face is seen")
    sp.add_argument(
        "--opt",
        action="append",
        metavar="SLOT.KEY=VALUE",
        help="component option (repeatable), e.g. --opt transcriber.model=small "
        "--opt voice.words_per_minute=160",
    )
    sp.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    offline(sp)

    sp = add("lipsync", cmd_lipsync, "lip-sync a video or portrait to an audio file")
    sp.add_argument("--face", required=True, help="video or still image")
    sp.add_argument("--audio", required=True, help="speech audio (any format)")
    sp.add_argument(
        "-o",
        "--output",
        required=True,
        type=_output(VIDEO_SUFFIXES, "a video"),
        help=f"output video: {', '.join(VIDEO_SUFFIXES)}",
    )
    sp.add_argument(
        "--model",
        default="wav2lip_gan",
        choices=["wav2lip", "wav2lip_gan"],
        help="lip-sync model (default: wav2lip_gan)",
    )
    sp.add_argument("--checkpoint", help="local .pth/.pt/.safetensors checkpoint")
    sp.add_argument(
        "--detector",
        default="retinaface",
        help="face detector: retinaface (default), s3fd, haar",
    )
    sp.add_argument(
        "--device",
        type=_device,
        help="auto, cpu, cuda or cuda:N (default: auto, cuda if available)",
    )
    sp.add_argument(
        "--batch-size",
        type=_number(1, 4096, integer=True),
        help="face crops per model call, 1 to 4096 (default: from the device's memory)",
    )
    sp.add_argument(
        "--pads",
        type=_number(-1000, 1000, integer=True),
        nargs=4,
        default=[0, 10, 0, 0],
        metavar=("T", "B", "L", "R"),
        help="pixels added to the face box: top bottom left right (default: 0 10 0 0)",
    )
    sp.add_argument(
        "--fps",
        type=_number(1, 240),
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

    sp = add("transcribe", cmd_transcribe, "speech to a timed transcript (JSON, SRT or VTT)")
    sp.add_argument("input", help="video or audio file")
    sp.add_argument(
        "-o",
        "--output",
        type=_output(TRANSCRIPT_SUFFIXES, "a transcript"),
        help="transcript file, .json, .srt or .vtt (default: INPUT.<lang>.json)",
    )
    sp.add_argument("--lang", help="spoken language (default: detect)")
    sp.add_argument(
        "--backend", default="whisper", help="speech-to-text backend: whisper (default), google"
    )
    sp.add_argument(
        "--model",
        help="model name or local model directory (default: small for whisper; "
        "tiny, base, medium, large-v3 ... also work)",
    )
    opt(sp)
    offline(sp)

    sp = add("translate", cmd_translate, "translate a transcript, keeping its timing")
    sp.add_argument("transcript", help="transcript file (.json, .srt or .vtt)")
    sp.add_argument("--to", required=True, help="target language (BCP-47, e.g. es)")
    sp.add_argument("--from", dest="source", help="source language for SRT/VTT input")
    sp.add_argument(
        "-o",
        "--output",
        type=_output(TRANSCRIPT_SUFFIXES, "a transcript"),
        help="translated transcript, .json, .srt or .vtt (default: TRANSCRIPT.<lang>.json)",
    )
    sp.add_argument(
        "--backend",
        default="opus",
        help="translation backend: opus (default; OPUS-MT), google, identity",
    )
    opt(sp)
    offline(sp)

    sp = add("speak", cmd_speak, "speak a text, or a transcript at its timing, to an audio file")
    sp.add_argument("text", help="text to speak, or a transcript .json/.srt/.vtt")
    sp.add_argument(
        "-o",
        "--output",
        required=True,
        type=_output(AUDIO_SUFFIXES, "audio"),
        help=f"audio file: {', '.join(AUDIO_SUFFIXES)}",
    )
    sp.add_argument("--voice", help="voice name (see `lipdub voices`; default: the backend's)")
    sp.add_argument("--lang", help="language of the text (BCP-47, e.g. es)")
    sp.add_argument(
        "--rate",
        type=_number(0.25, 4.0),
        default=1.0,
        help="speaking rate for plain text, 0.25 to 4 (default: 1.0; 1.2 = 20%% faster)",
    )
    sp.add_argument(
        "--sample-rate",
        type=_number(8000, 192000, integer=True),
        help="resample to this rate in Hz, 8000 to 192000 (default: the voice's own)",
    )
    sp.add_argument(
        "--backend", default="espeak", help="voice backend: espeak (default), piper, google"
    )
    opt(sp)
    offline(sp)

    sp = add("voices", cmd_voices, "list the voices of a text-to-speech backend")
    sp.add_argument("--lang", help="only voices for this language (BCP-47, e.g. es-ES)")
    sp.add_argument(
        "--backend", default="espeak", help="voice backend: espeak (default), piper, google"
    )
    opt(sp)

    sp = add("weights", cmd_weights, "list, download or convert model weights")
    sp.add_argument("action", choices=["list", "download", "convert"])
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
    offline(sp)
    return p


EXIT_SIGTERM = 128 + 15


def _on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM: delete the temporary files of outputs being written, exit 143 at once.

    Outputs are written to hidden temporary files and renamed when complete, so a
    terminated run leaves neither a partial output nor a stray temporary file.
    """
    from lipdub._io import remove_in_flight

    remove_in_flight()
    with contextlib.suppress(Exception):
        sys.stderr.write("terminated\n")
        sys.stderr.flush()
    os._exit(EXIT_SIGTERM)


def _hub_setup(args: argparse.Namespace) -> None:
    """``--offline`` switches downloads off for the process; without ``--verbose``,
    huggingface_hub's retry chatter and warnings stay off the screen."""
    if getattr(args, "offline", False):
        from lipdub.hub import set_offline

        set_offline(True)
    if not args.verbose:
        import warnings

        logging.getLogger("huggingface_hub").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", module="huggingface_hub")


def _render_error(e: LipdubError, command: str) -> str:
    """The one error line; commands with a single backend take ``--opt KEY=VALUE``
    (not ``SLOT.KEY``), so a missing model's hint is written for them."""
    text = str(e)
    if command in ("transcribe", "translate", "speak", "voices") and e.hint:
        for slot in ("transcriber", "translator", "voice", "detector"):
            text = text.replace(f"--opt {slot}.", "--opt ")
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (the console script exits with it).

    While it runs, SIGTERM deletes the temporary files of unfinished outputs and exits
    with status 143.
    """
    previous: Any = None
    handled = threading.current_thread() is threading.main_thread()
    if handled:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _main(argv)
    finally:
        if handled and previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, or a usage error already printed
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    if args.command == "weights":
        args.input, args.output = (
            [*args.name, None, None] if args.action == "convert" else [None, None]
        )[:2]
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    _hub_setup(args)
    try:
        return int(args.func(args))
    except LipdubError as e:
        if args.verbose:
            raise
        sys.stderr.write(f"error: {_one_line(_render_error(e, args.command))}\n")
        return EXIT_ERROR
    except OSError as e:  # the file system refused (permissions, a folder, a full disk)
        if args.verbose:
            raise
        where = f"{e.filename}: " if e.filename else ""
        sys.stderr.write(f"error: {where}{_one_line(str(e.strerror or e))}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    finally:
        if getattr(args, "offline", False):  # main() may run in-process (tests, apps)
            from lipdub.hub import set_offline

            set_offline(False)


def run() -> None:
    """Console-script entry point: ``sys.exit(main())``."""
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    run()
