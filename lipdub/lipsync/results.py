"""What a lip-sync run reports: :class:`LipSyncStats` (live counters) and :class:`LipSyncResult`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

__all__ = ["AFTER_AUDIO", "NO_FACE", "OUTSIDE_SPEECH", "SYNC", "LipSyncResult", "LipSyncStats"]

# Why a frame is (not) synced.
SYNC, NO_FACE, OUTSIDE_SPEECH, AFTER_AUDIO = 0, 1, 2, 3


@dataclass
class LipSyncStats:
    """Counters of a run; filled while it streams, final once the stream is exhausted.

    Attributes:
        frames_total: Frames produced.
        frames_synced: Frames whose mouth was regenerated.
        frames_no_face: Frames in speech where no face was found (passed through).
        frames_outside_speech: Frames outside ``speech_spans`` (passed through; the
            model did not run).
        frames_after_audio: Frames after the end of the audio (``audio_shorter="keep"``).
        source_frames: Frames read from the input (one decode).
        frames_replayed: Output frames that replay earlier source frames.
        frames_spooled: Source frames spooled to disk for replays.
        stage_busy_s: Busy seconds per stage (work, not waiting on queues).
        stage_wall_s: Wall seconds per stage thread.
        queue_peaks: Most items each queue ever held.
        queue_bounds: Each queue's capacity (items; batch queues hold batches),
            derived from a byte budget and the frame size.
        frames_in_flight_peak: Most frames alive inside the pipeline at once.
        frames_in_flight_bound: The bound the queue sizes and batch size imply (None
            when a face tracker with unknown look-ahead is used).
        batch_size: Crops per ``syncer.sync`` call.
        wall_s: Seconds from start to the last frame.
    """

    frames_total: int = 0
    frames_synced: int = 0
    frames_no_face: int = 0
    frames_outside_speech: int = 0
    frames_after_audio: int = 0
    source_frames: int = 0
    frames_replayed: int = 0
    frames_spooled: int = 0
    stage_busy_s: dict[str, float] = field(default_factory=dict)
    stage_wall_s: dict[str, float] = field(default_factory=dict)
    queue_peaks: dict[str, int] = field(default_factory=dict)
    queue_bounds: dict[str, int] = field(default_factory=dict)
    frames_in_flight_peak: int = 0
    frames_in_flight_bound: int | None = None
    batch_size: int = 0
    wall_s: float = 0.0

    def busy_percent(self) -> dict[str, float]:
        """Busy time of each stage as a percentage of the run's wall time."""
        if self.wall_s <= 0:
            return {k: 0.0 for k in self.stage_busy_s}
        return {k: 100.0 * v / self.wall_s for k, v in self.stage_busy_s.items()}


@dataclass(frozen=True, slots=True)
class LipSyncResult:
    """What :func:`lipsync` produced.

    Attributes:
        output: The MP4 written.
        frames_total: Frames in the output video.
        frames_synced: Frames with a regenerated mouth.
        frames_no_face: Frames in speech without a face (left unchanged).
        frames_outside_speech: Frames outside ``speech_spans`` (left unchanged).
        fps: Output frame rate (exact).
        duration_s: Video duration, ``frames_total / fps`` seconds.
        stage_busy_s: Busy seconds per stage (decode, track, crop, generate, blend,
            encode).
        stats: All counters of the run (queue peaks, replays, wall time, ...).
    """

    output: Path
    frames_total: int
    frames_synced: int
    frames_no_face: int
    frames_outside_speech: int
    fps: Fraction
    duration_s: float
    stage_busy_s: Mapping[str, float]
    stats: LipSyncStats
