"""The options of a lip-sync run, in one frozen object, and the batch size they imply.

:class:`LipSyncOptions` holds every choice of :func:`~lipdub.lipsync.engine.lipsync`
besides its inputs; :func:`~lipdub.lipsync.engine.lipsync` also takes the same names
as keyword arguments (``lipsync(..., batch_size=8)`` is
``lipsync(..., options=LipSyncOptions(batch_size=8))``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from lipdub.errors import InputError
from lipdub.lipsync.base import LipSyncer
from lipdub.lipsync.blend import MaskShape
from lipdub.lipsync.schedule import AudioLonger
from lipdub.lipsync.syncstream import BATCHES_HELD, AudioShorter
from lipdub.types import AudioClip, FaceBox
from lipdub.typing import Frame, PathLike

if TYPE_CHECKING:
    from lipdub.faces.base import FaceDetector
    from lipdub.faces.track import FaceTrack, FaceTracker

__all__ = ["LipSyncOptions", "auto_batch_size"]

#: Host memory the frames held in batches may take (bounds the auto batch size): on
#: the CPU the model's batch barely changes its speed, on a GPU larger batches pay.
HOST_BATCH_BUDGET_BYTES = 384 << 20
HOST_BATCH_BUDGET_BYTES_CUDA = 1 << 30
CPU_MAX_BATCH = 8


@dataclass(frozen=True, slots=True)
class LipSyncOptions:
    """Every choice of a lip-sync run besides its inputs (see :func:`lipdub.lipsync.lipsync`).

    Attributes:
        detector: Face detector (instance or registry name) for a default tracker.
        tracker: A configured :class:`~lipdub.faces.track.FaceTracker`.
        track: Precomputed face boxes per source frame.
        box: One fixed ``(x1, y1, x2, y2)`` face box for every frame.
        fps: Output frame rate (default: the video's; 25 for images).
        batch_size: Crops per model call (default: :func:`auto_batch_size`).
        pads: Pixels added to the face box ``(top, bottom, left, right)``.
        speech_spans: ``(start_s, end_s)`` spans of speech (None: all).
        audio_longer: ``"pingpong"`` or ``"loop"`` replay when the audio is longer.
        audio_shorter: ``"trim"`` or ``"keep"`` the video when the audio is shorter.
        feather: Edge softness of the pasted mouth (None: the blend's default).
        color_match: Match the generated crop's colours before pasting.
        mouth_only: Blend only the lower face.
        mask: Shape of the blended mouth region: ``"ellipse"`` (fitted to the face's
            landmarks, feathered in proportion to the face; no straight edge) or
            ``"box"`` (the lower part of the box with feathered edges).
        threads: CPU threads for the model (the syncer's :meth:`~LipSyncer.running`).
        compile: Compile the model and feed it fixed-shape batches.
        output_audio: The sound track to mux (default: the driving audio).
        crf: x264 quality.
        preset: x264 speed preset. Default ``"veryfast"``, chosen by measurement
            (``benchmarks/RESULTS.md``, #29): at 720p and CRF 18 it costs 8 CPU ms a
            frame against ``"medium"``'s 19-21 ms, writes 35 % smaller files, and
            stays within 1.1 dB PSNR of ``"medium"`` against the source frames.
        require_face: Raise when no frame that needed lip-sync showed a face.
        frame_filter: ``frame_filter(index, frame)`` on every output frame.

    Example:
        >>> LipSyncOptions(batch_size=4).replace(crf=20).crf
        20
    """

    detector: FaceDetector | str | None = None
    tracker: FaceTracker | None = None
    track: FaceTrack | None = None
    box: FaceBox | Sequence[float] | None = None
    fps: float | Fraction | None = None
    batch_size: int | None = None
    pads: tuple[int, int, int, int] = (0, 10, 0, 0)
    speech_spans: Sequence[tuple[float, float]] | None = None
    audio_longer: AudioLonger = "pingpong"
    audio_shorter: AudioShorter = "trim"
    feather: float | None = None
    color_match: bool = False
    mouth_only: bool = True
    mask: MaskShape = "ellipse"
    threads: int | None = None
    compile: bool = False
    output_audio: AudioClip | PathLike | None = None
    crf: int = 18
    preset: str = "veryfast"
    require_face: bool = False
    frame_filter: Callable[[int, Frame], Frame] | None = None

    def __post_init__(self) -> None:
        if self.audio_longer not in ("pingpong", "loop"):
            raise InputError(
                f"audio_longer must be 'pingpong' or 'loop', got {self.audio_longer!r}"
            )
        if self.audio_shorter not in ("trim", "keep"):
            raise InputError(f"audio_shorter must be 'trim' or 'keep', got {self.audio_shorter!r}")
        if self.mask not in ("ellipse", "box"):
            raise InputError(f"mask must be 'ellipse' or 'box', got {self.mask!r}")
        if len(self.pads) != 4:
            raise InputError(f"pads must be (top, bottom, left, right), got {self.pads!r}")
        if self.batch_size is not None and self.batch_size < 1:
            raise InputError(f"batch_size must be >= 1, got {self.batch_size}")
        given = sum(x is not None for x in (self.detector, self.tracker, self.track, self.box))
        if given > 1:
            raise InputError("pass only one of detector=, tracker=, track= or box=")

    def replace(self, **changes: Any) -> LipSyncOptions:
        """A copy with ``changes`` (option names as keywords).

        Raises:
            InputError: An unknown option name.
        """
        unknown = sorted(set(changes) - _FIELDS)
        if unknown:
            raise InputError(
                f"unknown lip-sync option(s): {', '.join(unknown)}",
                hint=f"the options are: {', '.join(sorted(_FIELDS))}",
            )
        return dataclasses.replace(self, **changes)

    @classmethod
    def merge(cls, options: LipSyncOptions | None, changes: Mapping[str, Any]) -> LipSyncOptions:
        """``options`` (default: all defaults) with ``changes`` applied."""
        base = options if options is not None else cls()
        return base.replace(**changes) if changes else base


_FIELDS = frozenset(f.name for f in dataclasses.fields(LipSyncOptions))


def auto_batch_size(syncer: LipSyncer, frame_bytes: int) -> int:
    """A batch size for ``syncer`` that also keeps the frames in flight within budget.

    Starts from the syncer's :meth:`~LipSyncer.run_batch_size` (on CUDA, Wav2Lip
    raises its suggestion to fill half the free GPU memory). On the CPU it is at most 8: there the
    cost per crop does not fall beyond 8 crops, while every crop in a batch holds a
    full frame. Either way the full frames held by the batches in flight stay under
    384 MiB of host memory on the CPU (at 720p: batch <= 27; at 1080p: <= 12) and
    1 GiB on a GPU.

    Args:
        syncer: The lip-syncer.
        frame_bytes: Bytes of one full frame (``H * W * 3``).

    Returns:
        Crops per ``sync`` call, >= 1.
    """
    size = max(1, int(syncer.run_batch_size()))
    budget = HOST_BATCH_BUDGET_BYTES
    if syncer.device.startswith("cuda"):
        budget = HOST_BATCH_BUDGET_BYTES_CUDA
    else:
        size = min(size, CPU_MAX_BATCH)
    cap = max(1, budget // (BATCHES_HELD * max(1, frame_bytes)))
    return max(1, min(size, cap))
