"""Subtitles of a dub: readable cues, and burning them into frames (opt-in).

:func:`subtitle_cues` turns a transcript into wrapped, split cues timed to the dubbed
speech. Burning needs Pillow and a TrueType font.

:class:`SubtitleBurner` is a frame filter for :func:`lipdub.lipsync.lipsync`: frame
``i`` shows the cue whose time span contains ``i / fps``, drawn as white text with a
dark outline, centred near the bottom. Each cue is rendered once and alpha-blended
onto the frames it covers; frames without a cue are returned as they are.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import os
import textwrap
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lipdub.dub.timing import TimingReport
from lipdub.errors import BackendNotInstalled, InputError
from lipdub.types import Segment, Transcript
from lipdub.typing import Frame

__all__ = ["CUE_RULES", "SubtitleBurner", "find_font", "subtitle_cues"]

#: The version of the rules that time and write cues (:func:`subtitle_cues`, and the
#: escaping of :meth:`~lipdub.types.Transcript.to_srt` / ``to_vtt``); part of the keys
#: of the stages that write subtitles, so files made by older rules are made again.
#: 2: each cue ends with its line, cues never overlap, text escaped to its format.
CUE_RULES = 2

_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf",
    "/Library/Fonts/Arial Unicode.ttf",
    "/System/Library/Fonts/Supplemental/Arial Bold.ttf",
    "C:/Windows/Fonts/arialbd.ttf",
)


def find_font(font_path: str | os.PathLike[str] | None = None) -> Path:
    """A TrueType font with accented Latin glyphs: the given one, matplotlib's or the system's.

    Raises:
        InputError: ``font_path`` does not exist.
        BackendNotInstalled: no usable font was found.
    """
    if font_path is not None:
        p = Path(font_path)
        if not p.is_file():
            raise InputError("font file not found", path=p, hint="pass a .ttf/.otf file")
        return p
    try:
        import matplotlib  # type: ignore[import-not-found, unused-ignore]

        p = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans-Bold.ttf"
        if p.is_file():
            return p
    except ImportError:
        pass
    for candidate in _FONT_CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    raise BackendNotInstalled(
        "no TrueType font found to burn subtitles with",
        backend="subtitles",
        hint="install one (Debian: apt-get install fonts-dejavu-core) or pass font_path=",
    )


class SubtitleBurner:
    """Draws subtitle cues onto frames; call it as ``burner(index, frame)``.

    Args:
        cues: The cues (e.g. :func:`subtitle_cues` of the translation); a
            cue's text may hold line breaks.
        fps: Frame rate of the video the frames come from.
        font_path: A TrueType font (default: :func:`find_font`).
        font_size: Text height in pixels (default: 1/18 of the frame height, >= 12).
        margin: Distance of the text's bottom from the frame's bottom, as a fraction of
            the frame height.

    Example:
        >>> import numpy as np
        >>> from lipdub.types import Segment, Transcript
        >>> burn = SubtitleBurner(Transcript("es", (Segment(0.0, 1.0, "¡Hola!"),)), fps=25)
        >>> frame = np.zeros((120, 160, 3), np.uint8)
        >>> bool(burn(0, frame).any()), burn(30, frame) is frame
        (True, True)
    """

    def __init__(
        self,
        cues: Transcript,
        *,
        fps: float | Fraction,
        font_path: str | os.PathLike[str] | None = None,
        font_size: int | None = None,
        margin: float = 0.06,
    ) -> None:
        try:
            from PIL import ImageFont  # noqa: F401
        except ImportError as e:
            raise BackendNotInstalled(
                "burning subtitles needs Pillow, which is not installed",
                backend="subtitles",
                hint='pip install "lipdub[subtitles]"',
            ) from e
        if fps <= 0:
            raise InputError(f"fps must be > 0, got {fps}")
        self.cues = [s for s in cues.segments if s.text.strip()]
        self.fps = float(fps)
        self.font_path = find_font(font_path)
        self.font_size = font_size
        self.margin = margin
        self._starts = [c.start_s for c in self.cues]
        self._rendered: dict[tuple[int, int, int], tuple[Frame, npt.NDArray[np.float32]]] = {}

    def cue_at(self, time_s: float) -> int | None:
        """Index of the cue shown at ``time_s``, or None."""
        k = bisect.bisect_right(self._starts, time_s) - 1
        if k >= 0 and self.cues[k].start_s <= time_s < self.cues[k].end_s:
            return k
        return None

    def _render(self, k: int, width: int, height: int) -> tuple[Frame, npt.NDArray[np.float32]]:
        key = (k, width, height)
        if key in self._rendered:
            return self._rendered[key]
        from PIL import Image, ImageDraw, ImageFont

        size = self.font_size or max(12, height // 18)
        font: Any = ImageFont.truetype(str(self.font_path), size)
        stroke = max(1, size // 12)
        text = self.cues[k].text
        probe = ImageDraw.Draw(Image.new("L", (1, 1)))
        x0, y0, x1, y1 = (
            int(v)
            for v in probe.multiline_textbbox(
                (0, 0), text, font=font, align="center", stroke_width=stroke
            )
        )
        w, h = min(width, x1 - x0 + 2), min(height, y1 - y0 + 2)
        image = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        ImageDraw.Draw(image).multiline_text(
            (-x0 + 1, -y0 + 1),
            text,
            font=font,
            fill=(255, 255, 255, 255),
            align="center",
            stroke_width=stroke,
            stroke_fill=(0, 0, 0, 255),
        )
        rgba = np.asarray(image)
        bgr = np.ascontiguousarray(rgba[:, :, 2::-1])
        alpha = rgba[:, :, 3:4].astype(np.float32) / 255.0
        if len(self._rendered) > 64:
            self._rendered.clear()
        self._rendered[key] = (bgr, alpha)
        return bgr, alpha

    def __call__(self, index: int, frame: Frame) -> Frame:
        """``frame`` with the cue of ``index / fps`` drawn on it (a new array), or ``frame``."""
        k = self.cue_at(index / self.fps)
        if k is None:
            return frame
        height, width = frame.shape[:2]
        text, alpha = self._render(k, width, height)
        h, w = text.shape[:2]
        y2 = max(h, height - round(self.margin * height))
        y1, x1 = y2 - h, (width - w) // 2
        out = frame.copy()
        region = out[y1:y2, x1 : x1 + w].astype(np.float32)
        out[y1:y2, x1 : x1 + w] = (region * (1.0 - alpha) + text * alpha + 0.5).astype(np.uint8)
        return out


def subtitle_cues(
    transcript: Transcript,
    timing: TimingReport | None = None,
    *,
    max_chars_per_line: int = 42,
    max_lines: int = 2,
    min_cue_s: float = 0.0,
) -> Transcript:
    """Readable subtitle cues: wrapped lines, long segments split, timed to the speech.

    With ``timing``, cues follow the dubbed speech (start, start + speech length);
    otherwise the segment times. A segment longer than ``max_lines`` lines is split
    into several cues whose durations follow their share of the characters.

    Each cue ends when its line ends, and cues never overlap: a cue that would run
    into the next one ends where the next one starts. ``min_cue_s`` (default 0: off)
    lengthens a shorter cue, but only into the silence before the next cue.

    Example:
        >>> t = Transcript("en", (Segment(0.0, 0.46, "Hi."), Segment(0.3, 1.2, "Bye.")))
        >>> [(c.start_s, c.end_s) for c in subtitle_cues(t, min_cue_s=0.8).segments]
        [(0.0, 0.3), (0.3, 1.2)]
    """
    cues: list[Segment] = []
    for i, seg in enumerate(transcript.segments):
        text = " ".join(seg.text.split())
        if not text:
            continue
        start, end = seg.start_s, seg.end_s
        if timing is not None and i < len(timing.segments) and timing.segments[i].speech_s > 0:
            start, end = timing.segments[i].start_s, timing.segments[i].end_s
        lines = textwrap.wrap(text, max_chars_per_line) or [text]
        groups = [lines[k : k + max_lines] for k in range(0, len(lines), max_lines)]
        total = sum(len(" ".join(g)) for g in groups)
        t = start
        for g in groups:
            share = len(" ".join(g)) / total if total else 1.0
            t_end = end if g is groups[-1] else t + (end - start) * share
            cues.append(Segment(round(t, 3), round(t_end, 3), "\n".join(g), speaker=seg.speaker))
            t = t_end
    cues.sort(key=lambda c: c.start_s)
    return Transcript(transcript.language, tuple(_no_overlap(cues, min_cue_s)))


def _no_overlap(cues: list[Segment], min_cue_s: float) -> list[Segment]:
    """Each cue ends by the next one's start; a short one is lengthened only into silence."""
    out: list[Segment] = []
    for k, cue in enumerate(cues):
        limit = cues[k + 1].start_s if k + 1 < len(cues) else math.inf
        end = round(min(max(cue.end_s, cue.start_s + min_cue_s), limit), 3)
        out.append(cue if end == cue.end_s else dataclasses.replace(cue, end_s=end))
    return out
