"""Synthetic sample media for tests and examples: a drawn talking face, tones, a photo.

* :func:`make_test_video` writes an MP4 of a bright cartoon face (skin-coloured
  ellipse, eyes, a mouth that opens with the sound) drifting slowly over a dark
  background, with tone-burst "speech". ``blank_spans`` make the face leave the frame.
* :func:`make_portrait` writes a PNG of the same drawn face.
* :func:`make_speech_wav` writes tone bursts shaped like syllables.
* :func:`voice_tones` is a voice-like buzz at a chosen pitch and brightness, a
  reference clip for cloning voices.
* :func:`sample_portrait_path` is a real photo bundled with lipdub (public domain).

:func:`speech_tones` and the photo are the library's own data (:mod:`lipdub.data`),
re-exported here.

Everything is deterministic: the same arguments give the same pixels and samples.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from lipdub._io import atomic_write_bytes
from lipdub.data import PAUSE_S, SYLLABLE_S, portrait_path, speech_tones, syllables
from lipdub.errors import InputError
from lipdub.types import AudioClip
from lipdub.typing import Frame, PathLike

__all__ = [
    "make_portrait",
    "make_speech_wav",
    "make_test_video",
    "sample_portrait_path",
    "speech_tones",
    "voice_tones",
]

#: BGR colours of the drawing.
BACKGROUND = (32, 26, 22)
SKIN = (150, 185, 235)
EYE = (40, 30, 30)
MOUTH = (60, 40, 150)


def voice_tones(
    f0_hz: float,
    duration_s: float = 3.0,
    sample_rate_hz: int = 16000,
    *,
    brightness: float = 1.0,
) -> AudioClip:
    """A voice-like reference clip: harmonic syllables at about ``f0_hz``.

    Each syllable is a glottal-like buzz (harmonics falling as ``1/k**(2/brightness)``)
    gliding a few percent around ``f0_hz``; two clips with different ``f0_hz`` or
    ``brightness`` are two clearly different "voices".

    Example:
        >>> from lipdub.voice.voiceprint import median_f0
        >>> round(median_f0(voice_tones(120.0)) / 10)
        12
    """
    if not 40.0 <= f0_hz <= 600.0 or duration_s < 0 or brightness <= 0:
        raise InputError(f"voice_tones needs 40 <= f0_hz <= 600, got {f0_hz}")
    n = round(duration_s * sample_rate_hz)
    _, syllable, phase, env = syllables(n, sample_rate_hz)
    f0 = f0_hz * (1.0 + 0.04 * np.sin(syllable * 1.3) + 0.03 * (phase / SYLLABLE_S - 0.5))
    theta = 2 * np.pi * np.cumsum(f0) / sample_rate_hz
    nyquist = sample_rate_hz / 2
    tone = np.zeros(n)
    for k in range(1, int(nyquist / (f0_hz * 1.1))):
        tone += np.sin(k * theta) / k ** (2.0 / brightness)
    peak = float(np.max(np.abs(tone))) or 1.0
    return AudioClip((0.4 * env * tone / peak).astype(np.float32), sample_rate_hz)


def _mouth_open(t_s: float) -> float:
    """0..1 mouth opening matching the loudness of :func:`speech_tones` at ``t_s``."""
    period = SYLLABLE_S + PAUSE_S
    phase = t_s % period
    if phase >= SYLLABLE_S:
        return 0.0
    return float(math.sin(math.pi * phase / SYLLABLE_S) ** 0.7)


def draw_face(
    canvas: Frame, center: tuple[float, float], face_h: float, mouth_open: float = 0.3
) -> Frame:
    """Draw the cartoon face on ``canvas`` (``(H, W, 3)`` uint8 BGR, modified in place).

    Args:
        canvas: The image to draw on.
        center: Face centre ``(x, y)`` in pixels.
        face_h: Face height in pixels (the width is 0.75 of it).
        mouth_open: 0 (closed) to 1 (wide open).
    """
    import cv2

    cx, cy = center
    ax, ay = face_h * 0.375, face_h * 0.5
    c = (round(cx), round(cy))
    cv2.ellipse(canvas, c, (round(ax), round(ay)), 0, 0, 360, SKIN, -1, cv2.LINE_AA)
    eye_r = max(1, round(face_h * 0.05))
    for dx in (-0.15, 0.15):
        eye = (round(cx + dx * face_h), round(cy - 0.12 * face_h))
        cv2.circle(canvas, eye, eye_r, EYE, -1, cv2.LINE_AA)
    mouth_w = max(1, round(face_h * 0.16))
    mouth_h = max(1, round(face_h * (0.02 + 0.08 * float(np.clip(mouth_open, 0, 1)))))
    mouth = (round(cx), round(cy + 0.24 * face_h))
    cv2.ellipse(canvas, mouth, (mouth_w, mouth_h), 0, 0, 360, MOUTH, -1, cv2.LINE_AA)
    return canvas


def _in_spans(t_s: float, spans: Sequence[tuple[float, float]]) -> bool:
    return any(a <= t_s < b for a, b in spans)


def _frames(
    n: int,
    fps: Fraction,
    size: tuple[int, int],
    face: str,
    blank_spans: Sequence[tuple[float, float]],
) -> Iterator[Frame]:
    w, h = size
    face_h = 0.55 * min(w, h)
    for i in range(n):
        t = float(i / fps)
        frame = np.empty((h, w, 3), np.uint8)
        frame[:] = BACKGROUND
        if face == "drawn" and not _in_spans(t, blank_spans):
            cx = w / 2 + 0.08 * w * math.sin(2 * math.pi * t / 4.0)
            cy = h / 2 + 0.04 * h * math.sin(2 * math.pi * t / 3.0)
            draw_face(frame, (cx, cy), face_h, _mouth_open(t))
        yield frame


def make_test_video(
    path: PathLike,
    *,
    duration_s: float = 2.0,
    fps: float | Fraction = 25,
    size: tuple[int, int] = (640, 360),
    audio: bool = True,
    face: str = "drawn",
    blank_spans: Sequence[tuple[float, float]] = (),
    sample_rate_hz: int = 16000,
    crf: int = 23,
    preset: str = "ultrafast",
) -> Path:
    """Write a synthetic talking-face MP4 (H.264 + AAC) and return its path.

    Args:
        path: Output file.
        duration_s: Length in seconds (``round(duration_s * fps)`` frames).
        fps: Frame rate.
        size: ``(width, height)`` in pixels.
        audio: Add a tone-burst sound track (:func:`speech_tones`).
        face: ``"drawn"`` for the cartoon face, ``"none"`` for background only.
        blank_spans: ``[(start_s, end_s), ...]`` during which the face is gone
            (dark background only).
        sample_rate_hz: Audio sample rate.
        crf: x264 quality (lower is better).
        preset: x264 speed preset.

    Example:
        >>> import tempfile, os
        >>> from lipdub.media import probe
        >>> p = make_test_video(os.path.join(tempfile.mkdtemp(), "t.mp4"), duration_s=0.2,
        ...                     size=(64, 48))
        >>> probe(p).frame_count
        5
    """
    from lipdub.media import write_video

    if face not in ("drawn", "none"):
        raise InputError(f"face must be 'drawn' or 'none', got {face!r}")
    fps_f = Fraction(fps).limit_denominator(1_000_000)
    n = max(1, round(duration_s * fps_f))
    clip = speech_tones(duration_s, sample_rate_hz) if audio else None
    return write_video(
        path,
        _frames(n, fps_f, size, face, blank_spans),
        fps=fps_f,
        audio=clip,
        crf=crf,
        preset=preset,
    )


def make_portrait(path: PathLike, size: tuple[int, int] = (256, 256)) -> Path:
    """Write a PNG of the drawn face, centred on a dark background; return its path.

    Args:
        path: Output file (PNG content whatever the suffix).
        size: ``(width, height)`` in pixels.
    """
    import cv2

    w, h = size
    canvas = np.empty((h, w, 3), np.uint8)
    canvas[:] = BACKGROUND
    draw_face(canvas, (w / 2, h / 2), 0.7 * min(w, h), 0.2)
    ok, buf = cv2.imencode(".png", canvas)
    if not ok:  # pragma: no cover - cv2 always encodes a valid uint8 image
        raise InputError(f"could not encode a {w}x{h} PNG", path=path)
    return atomic_write_bytes(path, buf.tobytes())


def make_speech_wav(path: PathLike, duration_s: float, sample_rate_hz: int = 16000) -> Path:
    """Write :func:`speech_tones` as a 16-bit mono WAV; return its path."""
    return speech_tones(duration_s, sample_rate_hz).save_wav(path)


def sample_portrait_path() -> Path:
    """A real head-and-shoulders photo (JPEG, public domain) that ships with lipdub.

    It is a crop of NASA's portrait of astronaut Eileen Collins (as distributed with
    scikit-image as ``skimage.data.astronaut()``); see ``examples/data/README.md``.
    The library's own data (:func:`lipdub.data.portrait_path`).
    """
    return portrait_path()
