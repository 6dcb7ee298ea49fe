"""The speaker map, ``speakers.json``: the turns found and, per label, a name and a voice.

The file is editable: a person can rename speakers, give each a voice, or correct the
turns; lipdub then uses the file as it is and never overwrites it. Format::

    {
      "turns": [{"start_s": 0.6, "end_s": 3.8, "speaker": "S1"}, ...],
      "speakers": {"S1": {"name": "S1", "voice": null}, ...}
    }
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lipdub._io import atomic_write_text
from lipdub._userfiles import read_json_file
from lipdub.diarize.base import SpeakerTurn
from lipdub.errors import InputError

__all__ = ["MAX_FILE_BYTES", "SpeakerMap"]

#: Largest ``speakers.json`` read (a real one is a few kB: one line per turn).
MAX_FILE_BYTES = 16 << 20


def _seconds(row: dict[str, Any], name: str, i: int, bad: Callable[[str], InputError]) -> float:
    """A turn's time: a finite number >= 0."""
    v = row.get(name)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise bad(f"turn {i}: {name} must be a number of seconds, got {v!r}")
    if not math.isfinite(v) or v < 0:
        raise bad(f"turn {i}: {name} must be finite and >= 0, got {v!r}")
    return float(v)


@dataclass(frozen=True)
class SpeakerMap:
    """Speaker turns plus ``label -> {"name": str, "voice": str | None}``.

    Example:
        >>> m = SpeakerMap.from_turns([SpeakerTurn(0.0, 1.0, "S1")])
        >>> m.speakers
        {'S1': {'name': 'S1', 'voice': None}}
        >>> SpeakerMap.from_dict(m.to_dict()) == m
        True
    """

    turns: tuple[SpeakerTurn, ...]
    speakers: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_turns(cls, turns: list[SpeakerTurn]) -> SpeakerMap:
        """A map naming every label after itself, with no voice chosen."""
        labels = dict.fromkeys(t.speaker for t in turns)
        return cls(tuple(turns), {k: {"name": k, "voice": None} for k in labels})

    def voices(self) -> dict[str, str]:
        """``label -> voice`` for the speakers given a voice."""
        return {k: str(v["voice"]) for k, v in self.speakers.items() if v.get("voice")}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        turns = [{"start_s": t.start_s, "end_s": t.end_s, "speaker": t.speaker} for t in self.turns]
        return {"turns": turns, "speakers": self.speakers}

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "speakers.json") -> SpeakerMap:
        """Parse and check the JSON form (a person may have edited it).

        Turns need finite, non-negative times with ``start_s <= end_s``, a non-empty
        speaker label, and must be sorted by start and not overlap (each starts at or
        after the end of the one before).

        Raises:
            InputError: one line naming the file and the first bad turn (1-based).
        """
        hint = "fix the file, or delete it to find the speakers again"

        def bad(what: str) -> InputError:
            return InputError(what, path=source, hint=hint)

        if not isinstance(data, dict) or not isinstance(data.get("turns"), list):
            raise bad("must be an object with a 'turns' list")
        turns: list[SpeakerTurn] = []
        for i, row in enumerate(data["turns"], 1):
            if not isinstance(row, dict):
                raise bad(f"turn {i} must be an object with start_s, end_s and speaker")
            start, end = (_seconds(row, name, i, bad) for name in ("start_s", "end_s"))
            label = row.get("speaker")
            if not isinstance(label, str) or not label.strip():
                raise bad(f"turn {i}: speaker must be a non-empty string, got {label!r}")
            if end < start:
                raise bad(f"turn {i} ends ({end:g} s) before it starts ({start:g} s)")
            if turns and start < turns[-1].end_s:
                prev = turns[-1]
                how = "starts before" if start < prev.start_s else "overlaps"
                raise bad(
                    f"turn {i} ({start:g}-{end:g} s) {how} turn {i - 1} "
                    f"({prev.start_s:g}-{prev.end_s:g} s); turns must be sorted by time "
                    "and not overlap"
                )
            turns.append(SpeakerTurn(start, end, label))
        speakers = data.get("speakers") or {}
        if not isinstance(speakers, dict):
            raise bad("'speakers' must be an object of label -> entry")
        out: dict[str, dict[str, Any]] = {}
        for label in dict.fromkeys([*speakers, *(t.speaker for t in turns)]):
            entry = speakers.get(label) or {}
            if not isinstance(entry, dict):
                raise bad(f"speakers.{label} must be an object")
            voice = entry.get("voice")
            if voice is not None and not isinstance(voice, str):
                raise bad(f"speakers.{label}.voice must be a voice name or null, got {voice!r}")
            out[label] = {"name": str(entry.get("name") or label), "voice": voice}
        return cls(tuple(turns), out)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the map as JSON (atomically) and return the path."""
        text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"
        return atomic_write_text(Path(path), text)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SpeakerMap:
        """Read a map written by :meth:`save` (or edited by a person), checked.

        Raises:
            InputError: one line naming the file: unreadable, not JSON, or a bad turn
                (see :meth:`from_dict`).
        """
        p = Path(path)
        data = read_json_file(
            p,
            "speaker map",
            max_bytes=MAX_FILE_BYTES,
            hint="fix the file, or delete it to find the speakers again",
        )
        return cls.from_dict(data, source=str(p))
