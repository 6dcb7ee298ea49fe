"""The ``lipdub`` command line. The only module that prints or draws progress.

Each subcommand is a thin wrapper over one public SDK call. A :class:`LipdubError`
prints one line (``error: ...``) and exits with status 1; ``--verbose`` shows the
traceback. Arguments are checked before any work (output extensions, finite numbers in
range, devices, ``--opt`` keys and the types of their values); a usage error is one
``error:`` line with status 2. An ``OSError`` from the file system is one line naming
the file. Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from lipdub._version import __version__
from lipdub.cli import batch, dub, lipsync, probe, review, speech, weights
from lipdub.cli import eval as eval_cmd
from lipdub.cli._args import EXIT_ERROR, EXIT_USAGE, OneLineParser
from lipdub.cli._render import ProgressRenderer, log_handler, one_line
from lipdub.errors import LipdubError

__all__ = ["ProgressRenderer", "build_parser", "main", "run"]

#: The modules that add subcommands, in ``--help`` order.
COMMANDS = (probe, dub, lipsync, speech, weights, eval_cmd, batch, review)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for ``lipdub`` (exposed for documentation and tests)."""
    p = OneLineParser(
        prog="lipdub",
        description="Dub a video into another language and re-sync the speaker's lips.",
    )
    p.add_argument("--version", action="version", version=f"lipdub {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log details and show tracebacks")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    for module in COMMANDS:
        module.register(sub)
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
        from lipdub.slots import SLOTS

        for slot in SLOTS:
            text = text.replace(f"--opt {slot.kind}.", "--opt ")
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
        level=logging.INFO if args.verbose else logging.WARNING, handlers=[log_handler()]
    )
    _hub_setup(args)
    try:
        return int(args.func(args))
    except LipdubError as e:
        if args.verbose:
            raise
        sys.stderr.write(f"error: {one_line(_render_error(e, args.command))}\n")
        return EXIT_ERROR
    except OSError as e:  # the file system refused (permissions, a folder, a full disk)
        if args.verbose:
            raise
        where = f"{e.filename}: " if e.filename else ""
        sys.stderr.write(f"error: {one_line(f'{where}{e.strerror or e}')}\n")
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
