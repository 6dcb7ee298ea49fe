"""Argument checks of the ``lipdub`` command: every bad argument is one line, before any
work is done."""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from lipdub.errors import InputError, LipdubError, printable

EXIT_ERROR = 1
EXIT_USAGE = 2


def parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_options(pairs: Sequence[str] | None) -> dict[str, Any]:
    """``["model=tiny", "beam_size=5"]`` -> ``{"model": "tiny", "beam_size": 5}``."""
    out: dict[str, Any] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"--opt takes KEY=VALUE, got {pair!r}")
        out[key.strip().replace("-", "_")] = parse_value(value)
    return out


#: Containers the video writer (H.264 + AAC) can fill.
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv")
#: Audio files ``lipdub speak`` can write (``.wav`` directly, the rest via PyAV).
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".m4a", ".aac", ".ogg", ".opus")
TRANSCRIPT_SUFFIXES = (".json", ".srt", ".vtt")


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one ``error:`` line (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        text = printable(message, newlines=False)
        self.exit(EXIT_USAGE, f"error: {self.prog}: {text} (see `{self.prog} --help`)\n")


def number(
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


def device_arg(text: str) -> str | None:
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


def check_device(device: str | None) -> None:
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


def writable_target(path: Path) -> None:
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


def output_arg(suffixes: Sequence[str], what: str) -> Callable[[str], str]:
    """An argparse ``type=`` for an output file of one of ``suffixes``."""

    def parse(text: str) -> str:
        path = Path(text)
        writable_target(path)
        if path.suffix.lower() not in suffixes:
            got = f"{path.suffix!r}" if path.suffix else "no extension"
            raise argparse.ArgumentTypeError(
                f"{text}: cannot write {what} with {got}; use {', '.join(suffixes)}"
            )
        return text

    parse.__name__ = f"{what} file"
    return parse


def read_text_file(path_text: str, option: str) -> str:
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


def load_transcript(path_text: str, language: str | None) -> Any:
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


def check_options(kind: Any, name: str, opts: dict[str, Any], flag: str = "--opt") -> None:
    """Refuse ``--opt`` keys the backend's constructor does not take, listing those it does,
    and values that do not fit the type the constructor declares for them.

    Args:
        kind: The component kind.
        name: The backend's registry name.
        opts: The options, as :func:`parse_options` parsed them.
        flag: How the command line spells them: ``--opt`` (``--opt KEY=V``) or
            ``--opt SLOT.*`` (``--opt SLOT.KEY=V``).

    Raises:
        InputError: an unknown key, or a value of the wrong type (naming the flag, the
            backend, the option, the value and the type wanted).
    """
    if not opts:
        return
    from lipdub import registry

    valid = registry.option_names(kind, name)
    if valid is not None:
        unknown = sorted(set(opts) - set(valid))
        if unknown:
            raise InputError(
                f"{flag}: the {kind} backend {name!r} has no option "
                f"{', '.join(repr(k) for k in unknown)}",
                backend=name,
                hint=f"its options: {', '.join(valid) or 'none'}",
            )
    _check_option_types(kind, name, opts, flag)


def _opt_text(value: Any) -> str:
    """A parsed ``--opt`` value as the command line would spell it."""
    return value if isinstance(value, str) else json.dumps(value)


def _check_option_types(kind: Any, name: str, opts: dict[str, Any], flag: str) -> None:
    from lipdub import registry
    from lipdub._hints import mismatch

    hints = registry.option_hints(kind, name)
    for key, value in opts.items():
        if key not in hints:
            continue  # **kwargs, or an annotation that cannot be resolved: not checked
        wanted = mismatch(hints[key], value)
        if wanted is None:
            continue
        spelled = f"{flag[:-1]}{key}" if flag.endswith(".*") else f"{flag} {key}"
        got = f"the text {value!r}" if isinstance(value, str) else _opt_text(value)
        hint = None
        if "text" in wanted and not isinstance(value, str):
            hint = f"to pass it as text, quote it as JSON: {spelled}='\"{_opt_text(value)}\"'"
        elif "list" in wanted:
            hint = f"write a list as JSON: {spelled}='[...]'"
        elif "JSON object" in wanted:
            hint = f"write it as a JSON object: {spelled}='{{...}}'"
        raise InputError(
            f"{spelled}={_opt_text(value)}: the {kind} backend {name!r} wants {wanted} "
            f"for {key}, got {got}",
            backend=name,
            hint=hint,
        )


def check_workdir(text: str | None) -> None:
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


def add_command(
    sub: Any, name: str, fn: Callable[[argparse.Namespace], int], help: str
) -> argparse.ArgumentParser:
    """Add subcommand ``name`` running ``fn`` (``-v`` is accepted after it too)."""
    sp: argparse.ArgumentParser = sub.add_parser(name, help=help, description=help)
    sp.set_defaults(func=fn)
    sp.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help=argparse.SUPPRESS,
    )
    return sp


def add_opt(sp: argparse.ArgumentParser) -> None:
    """The ``--opt KEY=VALUE`` option of single-backend commands."""
    sp.add_argument(
        "--opt",
        action="append",
        metavar="KEY=VALUE",
        help="backend constructor option (repeatable), e.g. --opt compute_type=int8",
    )


def add_offline(sp: argparse.ArgumentParser) -> None:
    """The ``--offline`` option of commands that may download a model."""
    sp.add_argument(
        "--offline",
        action="store_true",
        help="never download models: use the Hugging Face cache only (like HF_HUB_OFFLINE=1)",
    )
