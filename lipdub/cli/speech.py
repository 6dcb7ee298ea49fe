"""The single-backend speech and text commands: ``transcribe``, ``translate``,
``speak`` and ``voices``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from lipdub.cli._args import (
    AUDIO_SUFFIXES,
    TRANSCRIPT_SUFFIXES,
    add_command,
    add_offline,
    add_opt,
    check_options,
    load_transcript,
    number,
    output_arg,
    parse_options,
)
from lipdub.cli._dub_options import add_fit_options, add_glossary_option, glossary_from_args
from lipdub.cli._render import echo, one_line, table_cell
from lipdub.errors import InputError

__all__ = ["register"]


def cmd_voices(args: argparse.Namespace) -> int:
    from lipdub import registry

    opts = parse_options(args.opt)
    check_options("voice", args.backend, opts)
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
        row = (
            v.name,
            ", ".join(v.language_codes),
            v.gender,
            str(v.natural_sample_rate_hz or ""),
            v.family or "",
        )
        table.add_row(*(table_cell(x) for x in row))
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
    from lipdub.dub.pipeline import DEFAULT_BACKENDS
    from lipdub.limits import Limits
    from lipdub.types import check_segment_lengths, check_segments_within

    opts = parse_options(args.opt)
    reference = None
    backend = args.backend or DEFAULT_BACKENDS["voice"]
    if args.reference:
        from lipdub.dub.stages.voices import pick_cloning_voice
        from lipdub.voice.clone_ref import read_reference

        reference = read_reference(
            args.reference, hint="give 6-15 s of the speaker's own voice (wav, mp3, flac...)"
        )
        if args.backend is None:
            backend, notice = pick_cloning_voice()
            if notice:
                logging.getLogger("lipdub.cli").warning("%s", notice)
        logging.getLogger("lipdub.cli").warning(
            "voice cloning: this speech is cloned from the voice in %s; you need that "
            "speaker's consent to clone and publish their voice",
            Path(args.reference).name,
        )
    check_options("voice", backend, opts)
    synth = registry.resolve("voice", backend, **opts)
    if reference is not None and not synth.clones:
        raise InputError(
            f"--reference needs a voice backend that clones; {synth.name} speaks its own voices",
            hint="leave --backend out (lipdub picks one), or use --backend match or chatterbox",
        )
    if not args.text.strip():
        raise InputError("nothing to speak: the text is empty", hint="pass some text")
    source = Path(args.text)
    if args.text.lower().endswith((".json", ".srt", ".vtt")) and source.exists():
        from lipdub.dub.options import FitOptions
        from lipdub.dub.timing import speak_transcript

        transcript = load_transcript(args.text, args.lang)
        limit = Limits.from_env().max_audio_duration_s
        check_segments_within(
            transcript,
            limit,
            source=source,
            what=f"the longest audio lipdub makes ({Limits.env_var('max_audio_duration_s')})",
            tolerance_s=0.0,
        )
        check_segment_lengths(transcript, source=source)
        for i in transcript.blank_segments():
            logging.getLogger("lipdub.cli").warning(
                "%s: segment %d has no text; it is skipped (silence)", source, i
            )
        clip, report = speak_transcript(
            synth,
            transcript,
            voice=args.voice,
            sample_rate_hz=args.sample_rate,
            reference=reference,
            options=FitOptions(max_rate=args.max_rate),
            allow_truncation=args.allow_truncation,
        )
        _save_audio(clip, args.output)
        echo(f"wrote {args.output} ({clip.duration_s:.2f} s, {len(transcript)} segments)")
        for line in report.describe().splitlines():
            echo(line)
        return 0
    cap = Limits.from_env().max_segment_chars
    if len(args.text) > cap:
        raise InputError(
            f"the text is {len(args.text)} characters long; one line is at most {cap} "
            "(about twenty minutes of speech)",
            hint="split it into a transcript of several segments, or raise "
            "LIPDUB_MAX_SEGMENT_CHARS",
        )
    extra = {"reference": reference} if reference is not None else {}
    clip = synth.synthesize(
        args.text, voice=args.voice, language=args.lang, rate=args.rate, **extra
    )
    if args.sample_rate:
        clip = clip.resample(args.sample_rate)
    _save_audio(clip, args.output)
    echo(f"wrote {args.output} ({clip.duration_s:.2f} s at {clip.sample_rate_hz} Hz)")
    return 0


def cmd_transcribe(args: argparse.Namespace) -> int:
    from lipdub import registry
    from lipdub.media import load_audio

    opts = parse_options(args.opt)
    if args.model:
        opts["model"] = args.model
    check_options("transcriber", args.backend, opts)
    transcriber = registry.resolve("transcriber", args.backend, **opts)
    audio = load_audio(args.input, 16000)
    transcript = transcriber.transcribe(audio, language=args.lang)
    output = args.output or str(Path(args.input).with_suffix(f".{transcript.language}.json"))
    transcript.save(output)
    echo(f"wrote {output} ({len(transcript)} segments, language {transcript.language})")
    return 0


def cmd_translate(args: argparse.Namespace) -> int:
    from lipdub import registry

    opts = parse_options(args.opt)
    check_options("translator", args.backend, opts)
    transcript = load_transcript(args.transcript, args.source)
    glossary = glossary_from_args(args)
    translator = registry.resolve("translator", args.backend, **opts)
    translated = translator.translate_transcript(transcript, args.to, glossary=glossary)
    output = args.output or str(Path(args.transcript).with_suffix(f".{args.to}.json"))
    translated.save(output)
    echo(f"wrote {output} ({len(translated)} segments, {transcript.language} -> {args.to})")
    for i, (s, t) in enumerate(zip(transcript.segments, translated.segments, strict=True)):
        for problem in glossary.check(s.text, t.text) if glossary else ():
            sys.stderr.write(one_line(f"warning: segment {i}: {problem}") + "\n")
    return 0


def register(sub: Any) -> None:
    """Add this module's subcommand(s) to the ``lipdub`` parser."""
    sp = add_command(
        sub, "transcribe", cmd_transcribe, "speech to a timed transcript (JSON, SRT or VTT)"
    )
    sp.add_argument("input", help="video or audio file")
    sp.add_argument(
        "-o",
        "--output",
        type=output_arg(TRANSCRIPT_SUFFIXES, "a transcript"),
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
    add_opt(sp)
    add_offline(sp)

    sp = add_command(sub, "translate", cmd_translate, "translate a transcript, keeping its timing")
    sp.add_argument("transcript", help="transcript file (.json, .srt or .vtt)")
    sp.add_argument("--to", required=True, help="target language (BCP-47, e.g. es)")
    sp.add_argument("--from", dest="source", help="source language for SRT/VTT input")
    sp.add_argument(
        "-o",
        "--output",
        type=output_arg(TRANSCRIPT_SUFFIXES, "a transcript"),
        help="translated transcript, .json, .srt or .vtt (default: TRANSCRIPT.<lang>.json)",
    )
    sp.add_argument(
        "--backend",
        default="opus",
        help="translation backend: opus (default; OPUS-MT), google, llm, identity",
    )
    add_glossary_option(sp)
    add_opt(sp)
    add_offline(sp)

    sp = add_command(
        sub, "speak", cmd_speak, "speak a text, or a transcript at its timing, to an audio file"
    )
    sp.add_argument("text", help="text to speak, or a transcript .json/.srt/.vtt")
    sp.add_argument(
        "-o",
        "--output",
        required=True,
        type=output_arg(AUDIO_SUFFIXES, "audio"),
        help=f"audio file: {', '.join(AUDIO_SUFFIXES)}",
    )
    sp.add_argument("--voice", help="voice name (see `lipdub voices`; default: the backend's)")
    sp.add_argument("--lang", help="language of the text (BCP-47, e.g. es)")
    sp.add_argument(
        "--rate",
        type=number(0.25, 4.0),
        default=1.0,
        help="speaking rate for plain text, 0.25 to 4 (default: 1.0; 1.2 = 20%% faster)",
    )
    sp.add_argument(
        "--sample-rate",
        type=number(8000, 192000, integer=True),
        help="resample to this rate in Hz, 8000 to 192000 (default: the voice's own)",
    )
    sp.add_argument(
        "--backend",
        help="voice backend: espeak (default), piper, google, match, chatterbox; with "
        "--reference: chatterbox when installed with its weights, else match",
    )
    sp.add_argument(
        "--reference",
        metavar="AUDIO",
        help="speak in this voice (6-15 s of the speaker, any audio format; needs a "
        "cloning backend and the speaker's consent)",
    )
    add_fit_options(sp)
    add_opt(sp)
    add_offline(sp)

    sp = add_command(sub, "voices", cmd_voices, "list the voices of a text-to-speech backend")
    sp.add_argument("--lang", help="only voices for this language (BCP-47, e.g. es-ES)")
    sp.add_argument(
        "--backend", default="espeak", help="voice backend: espeak (default), piper, google"
    )
    add_opt(sp)
