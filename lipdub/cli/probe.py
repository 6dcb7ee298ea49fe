"""``lipdub probe``: what a video, image or audio file holds."""

from __future__ import annotations

import argparse
from typing import Any

from lipdub.cli._args import (
    add_command,
)
from lipdub.cli._render import echo

__all__ = ["register"]


def cmd_probe(args: argparse.Namespace) -> int:
    from lipdub.media import probe

    echo(probe(args.file).describe())
    return 0


def register(sub: Any) -> None:
    """Add this module's subcommand(s) to the ``lipdub`` parser."""
    sp = add_command(sub, "probe", cmd_probe, "print what a video or image file holds")
    sp.add_argument("file", help="a video, image or audio file")
