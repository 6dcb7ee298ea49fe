"""``python -m lipdub.cli``."""

from lipdub.cli import run

run()
