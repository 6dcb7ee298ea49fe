"""What ``voice="clone"`` stands for, and what a cloned dub promises per line.

Below the stages and the pipeline, which both ask (the pipeline when it resolves the
``"clone"`` voice slot, the voices stage for its notice, the speak stage for the
checks on its lines and the reference each line names in ``timing.<lang>.json``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lipdub.errors import InputError

if TYPE_CHECKING:
    from lipdub.dub.report import TimingReport
    from lipdub.types import Transcript

__all__ = [
    "CLONE",
    "ReferenceFile",
    "ReferenceFiles",
    "check_clone_lines",
    "name_references",
    "pick_cloning_voice",
]

#: The voice name (and voice-slot name) that means "clone each speaker of the input".
CLONE = "clone"


def pick_cloning_voice() -> tuple[str, str | None]:
    """The registry name ``"clone"`` stands for, and a notice if it fell back.

    ``"chatterbox"`` when the ``chatterbox`` package is installed and its weights are
    cached (nothing is downloaded to decide); else ``"match"``, the offline
    reference-matched voice, with a one-line notice.

    Example:
        >>> name, notice = pick_cloning_voice()
        >>> name in ("chatterbox", "match")
        True
    """
    import importlib.util

    if importlib.util.find_spec("chatterbox") is None:
        return "match", (
            "cloning with the offline reference-matched voice (espeak-ng moved to each "
            "speaker's pitch and timbre, not a neural clone); for real cloning install "
            "chatterbox and run `lipdub weights download chatterbox`"
        )
    from lipdub.hub.catalogue import lookup
    from lipdub.hub.download import cached_path

    if cached_path(lookup("chatterbox")) is None:
        return "match", (
            "cloning with the offline reference-matched voice: the chatterbox weights are "
            "not downloaded (`lipdub weights download chatterbox`, or --tts chatterbox)"
        )
    return "chatterbox", None


@dataclass(frozen=True, slots=True)
class ReferenceFile:
    """A reference clip as the work directory holds it: its name and its file's sha256."""

    name: str
    sha256: str


@dataclass(frozen=True, slots=True)
class ReferenceFiles:
    """The reference files of a cloned dub: per speaker label, and the one for lines
    without a speaker (a dub without speaker analysis: the whole input is one speaker)."""

    by_speaker: Mapping[str, ReferenceFile] = field(default_factory=dict)
    default: ReferenceFile | None = None

    def of(self, speaker: str | None) -> ReferenceFile | None:
        """The file a line of ``speaker`` is spoken in: its speaker's, else the default
        (the rule :func:`lipdub.dub.timing.speak_transcript` follows for the clips)."""
        return self.by_speaker.get(speaker, self.default) if speaker else self.default


def _counted(noun: str, items: Sequence[object], one: str, many: str, limit: int = 6) -> str:
    """``"line 3 has..."`` or ``"lines 1, 4 have..."`` (at most ``limit`` named)."""
    shown = ", ".join(map(str, items[:limit]))
    shown += f" and {len(items) - limit} more" if len(items) > limit else ""
    return f"{noun} {shown} {one}" if len(items) == 1 else f"{noun}s {shown} {many}"


def check_clone_lines(lines: Transcript, speakers: Sequence[str], *, source: str) -> str | None:
    """What a dub cloning each speaker's voice cannot do as asked, in one line (or None).

    Each line is spoken in its speaker's reference voice; a line without a speaker (or
    with one that ``speakers`` does not have) gets the voice's default instead, and a
    speaker without a line is never heard. Both are said in one warning line.

    Args:
        lines: The lines to speak (a translation).
        speakers: The speakers found (the speaker map's labels).
        source: The file the lines come from, named in the messages.

    Returns:
        The warning, or None when every line has a found speaker and every speaker a line.

    Raises:
        InputError: No line carries any of the speakers: every line would be one voice.

    Example:
        >>> from lipdub.types import Segment, Transcript
        >>> t = Transcript("es", (Segment(0, 1, "Hola", speaker="S1"), Segment(1, 2, "¿Qué?")))
        >>> print(check_clone_lines(t, ["S1", "S2"], source="translation.es.json"))
        --voice clone: in translation.es.json line 1 has no speaker (it gets the voice's \
default); speaker S2 has no line (never heard)
    """
    spoken = [(i, s.speaker) for i, s in enumerate(lines.segments) if s.text.strip()]
    known = set(speakers)
    if spoken and not any(who in known for _, who in spoken):
        found = ", ".join(speakers) if speakers else "none (no turns)"
        raise InputError(
            f"--voice clone: no line of {source} has a speaker of the speaker map "
            f"(found: {found}), so every line would be spoken in one voice",
            hint=f'give each line a "speaker" in {source} (or delete it to translate the '
            "labelled transcript again; an SRT has no speakers); if speakers.json has no "
            "turns, edit it or delete it to find the speakers again; or leave --speakers "
            "out to clone one voice from the whole input",
        )
    none = [i for i, who in spoken if who is None]
    unknown = [f"{i} ({who})" for i, who in spoken if who is not None and who not in known]
    silent = [s for s in speakers if s not in {who for _, who in spoken}]
    parts = []
    if none:
        parts.append(_counted("line", none, "has no speaker", "have no speaker"))
    if unknown:
        what = "a speaker the speaker map does not have"
        parts.append(_counted("line", unknown, f"names {what}", f"name {what}"))
    if parts:
        they = "it gets" if len(none) + len(unknown) == 1 else "they get"
        parts[-1] += f" ({they} the voice's default)"
    if silent:
        parts.append(_counted("speaker", silent, "has no line", "have no line") + " (never heard)")
    said = "; ".join(parts)
    return f"--voice clone: in {source} {said}" if said else None


def name_references(report: TimingReport, files: ReferenceFiles) -> TimingReport:
    """``report`` with each spoken line naming the reference file it was spoken in.

    Example:
        >>> from lipdub.dub.report import SegmentTiming, TimingReport
        >>> row = SegmentTiming(0, "Hola", 0, 1, 1, 1, 1, 1, 1, 0, 0, speaker="S2",
        ...                     source_start_s=0)
        >>> files = ReferenceFiles({"S2": ReferenceFile("voices/S2.wav", "ab12")})
        >>> name_references(TimingReport((row,)), files).segments[0].reference
        'voices/S2.wav'
    """
    rows = []
    for s in report.segments:
        ref = files.of(s.speaker) if s.text.strip() else None
        rows.append(
            dataclasses.replace(
                s,
                reference=ref.name if ref else None,
                reference_sha256=ref.sha256 if ref else None,
            )
        )
    return dataclasses.replace(report, segments=tuple(rows))
