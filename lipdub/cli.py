"""The ``lipdub`` command line. The only module that prints or draws progress.

Each subcommand is a thin wrapper over one public SDK call. A :class:`LipdubError`
prints one line (``error: ...``) and exits with status 1; ``--verbose`` shows the
traceback. Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

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


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


# --------------------------------------------------------------------------- commands


def cmd_probe(args: argparse.Namespace) -> int:
    from lipdub.media import probe

    _out(probe(args.file).describe())
    return 0


def cmd_voices(args: argparse.Namespace) -> int:
    from lipdub import registry

    synth = registry.resolve("voice", args.backend, **_options(args.opt))
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


def cmd_speak(args: argparse.Namespace) -> int:
    from lipdub import registry
    from lipdub.types import Transcript

    synth = registry.resolve("voice", args.backend, **_options(args.opt))
    source = Path(args.text)
    if args.text.lower().endswith((".json", ".srt", ".vtt")) and source.is_file():
        from lipdub.dub.timing import speak_transcript

        transcript = Transcript.load(source, language=args.lang)
        clip, report = speak_transcript(
            synth, transcript, voice=args.voice, sample_rate_hz=args.sample_rate
        )
        clip.save_wav(args.output)
        _out(f"wrote {args.output} ({clip.duration_s:.2f} s, {len(transcript)} segments)")
        for line in report.describe().splitlines():
            _out(line)
        return 0
    clip = synth.synthesize(args.text, voice=args.voice, language=args.lang, rate=args.rate)
    if args.sample_rate:
        clip = clip.resample(args.sample_rate)
    clip.save_wav(args.output)
    _out(f"wrote {args.output} ({clip.duration_s:.2f} s at {clip.sample_rate_hz} Hz)")
    return 0


def cmd_transcribe(args: argparse.Namespace) -> int:
    from lipdub import registry
    from lipdub.media import load_audio

    opts = _options(args.opt)
    if args.model:
        opts["model"] = args.model
    transcriber = registry.resolve("transcriber", args.backend, **opts)
    audio = load_audio(args.input, 16000)
    transcript = transcriber.transcribe(audio, language=args.lang)
    output = args.output or str(Path(args.input).with_suffix(f".{transcript.language}.json"))
    transcript.save(output)
    _out(f"wrote {output} ({len(transcript)} segments, language {transcript.language})")
    return 0


def cmd_translate(args: argparse.Namespace) -> int:
    from lipdub import registry
    from lipdub.types import Transcript

    translator = registry.resolve("translator", args.backend, **_options(args.opt))
    transcript = Transcript.load(args.transcript, language=args.source)
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
    from lipdub.lipsync.engine import lipsync

    syncer = _lipsyncer(args)
    detector = registry.resolve("detector", args.detector)
    driving: Any = args.audio
    if args.isolate_voice:
        from lipdub.media import load_audio

        separator = registry.resolve("separator", args.isolate_voice)
        driving = separator.separate(load_audio(args.audio, 16000)).voice
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
            on_event=progress,
        )
    _out(f"wrote {result.output} ({result.duration_s:.2f} s, {result.frames_total} frames)")
    _out(
        f"frames: {result.frames_synced} lip-synced, {result.frames_no_face} without a face, "
        f"{result.frames_outside_speech} outside speech (left unchanged)"
    )
    return 0


def cmd_dub(args: argparse.Namespace) -> int:
    from lipdub.dub.options import DubOptions
    from lipdub.dub.pipeline import DubbingPipeline

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
    text = args.text
    if args.text_file:
        text = Path(args.text_file).read_text(encoding="utf-8")
    t0 = time.perf_counter()
    with ProgressRenderer(not args.quiet) as progress:
        result = pipeline.run(
            args.input,
            args.to,
            args.output,
            source_language=args.source,
            voice=args.voice,
            workdir=args.workdir,
            resume=not args.no_resume,
            stop_after=args.stop_after,
            text=text,
            options=options,
            on_event=progress,
        )
    _out(result.describe())
    _out(f"stages ({time.perf_counter() - t0:.1f} s in all):")
    _out(progress.summary())
    return 0


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
    p = argparse.ArgumentParser(
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
    sp.add_argument("file")

    sp = add("dub", cmd_dub, "translate a video's speech and lip-sync the speaker")
    sp.add_argument("input", help="video or still portrait")
    sp.add_argument("--to", required=True, help="target language (BCP-47, e.g. es)")
    sp.add_argument("--from", dest="source", help="source language (default: detect)")
    sp.add_argument("-o", "--output", help="output video (default: INPUT.<lang>.mp4)")
    sp.add_argument("--voice", help="voice name (see `lipdub voices`)")
    sp.add_argument("--voice-map", help="per-speaker voices: A=voice1,B=voice2")
    sp.add_argument("--transcriber", default="whisper", help="whisper (default), google, ...")
    sp.add_argument("--translator", default="opus", help="opus (default), google, identity, ...")
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
    sp.add_argument("--no-resume", action="store_true", help="redo every stage")
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
    sp.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda if available)")
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
    sp.add_argument("-o", "--output", required=True)
    sp.add_argument("--model", default="wav2lip_gan", choices=["wav2lip", "wav2lip_gan"])
    sp.add_argument("--checkpoint", help="local .pth/.pt/.safetensors checkpoint")
    sp.add_argument("--detector", default="retinaface")
    sp.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda if available)")
    sp.add_argument("--batch-size", type=int)
    sp.add_argument(
        "--pads", type=int, nargs=4, default=[0, 10, 0, 0], metavar=("T", "B", "L", "R")
    )
    sp.add_argument("--fps", type=float, help="frame rate for a still image (default 25)")
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
    sp.add_argument("-q", "--quiet", action="store_true", help="no progress bars")

    sp = add("transcribe", cmd_transcribe, "speech to a timed transcript (JSON, SRT or VTT)")
    sp.add_argument("input", help="video or audio file")
    sp.add_argument("-o", "--output")
    sp.add_argument("--lang", help="spoken language (default: detect)")
    sp.add_argument("--backend", default="whisper")
    sp.add_argument("--model", help="model name or local model directory")
    opt(sp)
    offline(sp)

    sp = add("translate", cmd_translate, "translate a transcript, keeping its timing")
    sp.add_argument("transcript")
    sp.add_argument("--to", required=True)
    sp.add_argument("--from", dest="source", help="source language for SRT/VTT input")
    sp.add_argument("-o", "--output")
    sp.add_argument("--backend", default="opus")
    opt(sp)
    offline(sp)

    sp = add("speak", cmd_speak, "speak a text, or a transcript at its timing, to a WAV file")
    sp.add_argument("text", help="text to speak, or a transcript .json/.srt/.vtt")
    sp.add_argument("-o", "--output", required=True)
    sp.add_argument("--voice")
    sp.add_argument("--lang")
    sp.add_argument("--rate", type=float, default=1.0)
    sp.add_argument("--sample-rate", type=int)
    sp.add_argument("--backend", default="espeak")
    opt(sp)
    offline(sp)

    sp = add("voices", cmd_voices, "list the voices of a text-to-speech backend")
    sp.add_argument("--lang")
    sp.add_argument("--backend", default="espeak")
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
    """Run the CLI; returns the exit status (the console script exits with it)."""
    parser = build_parser()
    args = parser.parse_args(argv)
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
        sys.stderr.write(f"error: {_render_error(e, args.command)}\n")
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
