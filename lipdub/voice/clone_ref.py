"""Reference clips for voice cloning: the cleanest 6-15 s of one speaker's turns.

A cloning voice needs a short clean sample of the speaker. :func:`pick_reference` cuts
it from the (ideally isolated) source voice: that speaker's turns, trimmed at both ends
so no neighbour bleeds in, ranked by how clean they sound (the spread between loud and
quiet frames: speech over silence scores high, speech over noise or music low), joined
best first until ``min_s`` is reached and cut at ``max_s``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lipdub.diarize.base import SpeakerTurn
from lipdub.errors import InputError, LipdubError
from lipdub.limits import Limits
from lipdub.types import AudioClip

__all__ = [
    "MAX_REFERENCE_S",
    "MIN_REFERENCE_S",
    "Reference",
    "cleanliness_db",
    "pick_reference",
    "read_reference",
]

#: The shortest reference clip lipdub uses (6-15 s is best).
MIN_REFERENCE_S = 1.0
#: The longest reference clip lipdub reads; a longer one is refused from its header.
MAX_REFERENCE_S = 300.0


@dataclass(frozen=True, slots=True)
class Reference:
    """A reference clip and the source spans (seconds) it was cut from."""

    clip: AudioClip
    spans: tuple[tuple[float, float], ...]

    @property
    def long_enough(self) -> bool:
        """Whether it reached the ``min_s`` asked for (a short speaker may not)."""
        return bool(self.spans) and self.clip.duration_s >= self._min_s

    _min_s: float = 6.0


def cleanliness_db(clip: AudioClip, frame_s: float = 0.02) -> float:
    """Loud-to-quiet frame spread in dB (95th over 10th percentile of frame RMS).

    Example:
        >>> import numpy as np
        >>> t = np.arange(16000) / 16000
        >>> bursts = np.sin(2 * np.pi * 200 * t) * (np.sin(2 * np.pi * 2 * t) > 0)
        >>> clean = AudioClip(bursts.astype(np.float32), 16000)
        >>> noisy = AudioClip((bursts + 0.3).astype(np.float32), 16000)
        >>> cleanliness_db(clean) > cleanliness_db(noisy)
        True
    """
    n = max(1, round(frame_s * clip.sample_rate_hz))
    x = clip.samples[: clip.num_samples // n * n].astype(np.float64)
    if x.size == 0:
        return 0.0
    rms = np.sqrt((x.reshape(-1, n) ** 2).mean(axis=1)) + 1e-6
    return float(20 * np.log10(np.percentile(rms, 95) / np.percentile(rms, 10)))


def pick_reference(
    voice: AudioClip,
    turns: Sequence[SpeakerTurn],
    speaker: str,
    *,
    min_s: float = 6.0,
    max_s: float = 15.0,
    trim_s: float = 0.15,
    min_turn_s: float = 1.0,
    gap_s: float = 0.2,
) -> Reference:
    """The cleanest ``min_s``..``max_s`` seconds of ``speaker``'s turns in ``voice``.

    Args:
        voice: The source voice (the separator's voice stem when there is music).
        turns: Speaker turns of ``voice``.
        speaker: Whose reference to cut.
        min_s: Stop adding turns once this long.
        max_s: Never longer than this.
        trim_s: Cut from both ends of every turn (speaker changes are not sharp).
        min_turn_s: Turns shorter than this after trimming are not used.
        gap_s: Silence put between joined turns.

    Returns:
        The clip and its source spans, in source order; an empty clip when the
        speaker has no usable turn (check :attr:`Reference.long_enough`).
    """
    if not 0 < min_s <= max_s:
        raise InputError(f"need 0 < min_s <= max_s, got {min_s}, {max_s}")
    rate = voice.sample_rate_hz
    candidates = []
    for t in turns:
        if t.speaker != speaker:
            continue
        a, b = t.start_s + trim_s, min(t.end_s - trim_s, voice.duration_s)
        if b - a < min_turn_s:
            continue
        part = AudioClip(voice.samples[round(a * rate) : round(b * rate)], rate)
        candidates.append((cleanliness_db(part), a, b))
    candidates.sort(key=lambda c: -c[0])
    chosen: list[tuple[float, float]] = []
    total = 0.0
    for _, a, b in candidates:
        if total >= min_s:
            break
        b = min(b, a + (max_s - total))
        chosen.append((a, b))
        total += (b - a) + gap_s
    chosen.sort()
    gap = np.zeros(round(gap_s * rate), np.float32)
    pieces: list[np.ndarray] = []
    for i, (a, b) in enumerate(chosen):
        if i:
            pieces.append(gap)
        pieces.append(voice.samples[round(a * rate) : round(b * rate)])
    samples = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    samples = samples[: round(max_s * rate)]
    return Reference(AudioClip(samples.astype(np.float32), rate), tuple(chosen), min_s)


def read_reference(
    path: str | os.PathLike[str],
    *,
    sample_rate_hz: int = 24000,
    what: str = "reference clip",
    hint: str = "put a WAV of the speaker's own voice there (6-15 s of clean speech)",
) -> AudioClip:
    """Read a reference clip a person gave (any audio format), checked for use.

    Raises:
        InputError: one line naming the file: it is missing, a folder, empty, not
            audio, shorter than :data:`MIN_REFERENCE_S`, longer than
            :data:`MAX_REFERENCE_S` (judged from its header, before it is decoded; a
            header that lies is caught while decoding) or silent.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "S1.wav"
        >>> _ = p.write_bytes(b"")
        >>> try:
        ...     read_reference(p)
        ... except InputError as e:
        ...     print(e.message)
        the reference clip S1.wav is empty
    """
    from lipdub.media import load_audio

    p = Path(path)
    fix = hint
    if p.is_dir():
        raise InputError(f"the {what} {p.name} is a folder, not audio", path=p, hint=fix)
    if not p.is_file():
        raise InputError(f"the {what} {p.name} does not exist", path=p, hint=fix)
    if p.stat().st_size == 0:
        raise InputError(f"the {what} {p.name} is empty", path=p, hint=fix)
    declared = _declared_duration_s(p)
    if declared is not None and declared > MAX_REFERENCE_S:
        raise InputError(
            f"the {what} {p.name} is {declared:.0f} s long; a reference is at most "
            f"{MAX_REFERENCE_S:g} s",
            path=p,
            hint=fix,
        )
    env = Limits.from_env()  # and a header that lies is stopped while decoding
    cap = min(env.max_audio_duration_s, MAX_REFERENCE_S + 1.0)
    limits = dataclasses.replace(env, max_audio_duration_s=cap)
    try:
        clip = load_audio(p, sample_rate_hz, align_to_video=False, limits=limits)
    except LipdubError as e:
        raise InputError(
            f"the {what} {p.name} is not audio lipdub can read ({e.message})", path=p, hint=fix
        ) from e
    if clip.duration_s < MIN_REFERENCE_S:
        raise InputError(
            f"the {what} {p.name} is {clip.duration_s:.2f} s long; it needs at least "
            f"{MIN_REFERENCE_S:g} s of the speaker's voice",
            path=p,
            hint=fix,
        )
    if clip.rms() < 1e-4:
        raise InputError(f"the {what} {p.name} is silent", path=p, hint=fix)
    return clip


def _declared_duration_s(path: Path) -> float | None:
    """The duration a media file's header declares (nothing decoded), or None."""
    import av

    try:
        with av.open(os.fspath(path)) as container:
            if container.duration:
                return float(container.duration) / av.time_base
            for stream in container.streams.audio[:1]:
                if stream.duration and stream.time_base:
                    return float(stream.duration * stream.time_base)
    except (av.FFmpegError, OSError, ValueError):
        return None  # load_audio says what is wrong with it
    return None
