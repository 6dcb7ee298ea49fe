"""How many CPU threads a lip-sync model gets by default."""

from __future__ import annotations

import os

__all__ = ["default_threads"]


def default_threads() -> int:
    """CPU threads for a model: every core up to 4, else cores - 1.

    Decode, tracking, blending and encoding together need about half a core at the
    generator's pace, so on small machines the model gets every core and the other
    stages slot in; on larger ones one core is left to them.
    """
    cores = os.cpu_count() or 1
    return cores if cores <= 4 else cores - 1
