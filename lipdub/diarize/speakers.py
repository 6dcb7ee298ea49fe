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
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lipdub.diarize.base import SpeakerTurn
from lipdub.errors import InputError

__all__ = ["SpeakerMap"]


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
        """Parse (and check) the JSON form."""
        if not isinstance(data, dict) or not isinstance(data.get("turns"), list):
            raise InputError(f"{source} must be an object with a 'turns' list")
        try:
            turns = tuple(
                SpeakerTurn(float(t["start_s"]), float(t["end_s"]), str(t["speaker"]))
                for t in data["turns"]
            )
        except (KeyError, TypeError, ValueError) as e:
            raise InputError(
                f"{source}: every turn needs start_s, end_s and speaker ({e})",
                hint="fix the file, or delete it to find the speakers again",
            ) from e
        speakers = data.get("speakers") or {}
        if not isinstance(speakers, dict):
            raise InputError(f"{source}: 'speakers' must be an object of label -> entry")
        out: dict[str, dict[str, Any]] = {}
        for label in dict.fromkeys([*speakers, *(t.speaker for t in turns)]):
            entry = speakers.get(label) or {}
            if not isinstance(entry, dict):
                raise InputError(f"{source}: speakers.{label} must be an object")
            out[label] = {"name": str(entry.get("name") or label), "voice": entry.get("voice")}
        return cls(turns, out)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the map as JSON (atomically) and return the path."""
        p = Path(path)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")
        tmp.replace(p)
        return p

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SpeakerMap:
        """Read a map written by :meth:`save` (or edited by a person)."""
        p = Path(path)
        try:
            data = json.loads(p.read_text())
        except (OSError, ValueError) as e:
            raise InputError(f"cannot read {p}: {e}", path=p) from e
        return cls.from_dict(data, source=p.name)
