"""The whole-video lip-sync engine: streaming, overlapped, in flat memory.

:func:`lipsync` turns a face video (or a still image, or frames you hand it) and a
driving speech track into an MP4 whose lips follow the speech. Under the hood
:func:`lipsync_stream` runs six stages in threads connected by bounded queues::

    decode ──► track ──► crop ──► generate ──► blend ──► encode (the caller / VideoWriter)
    (PyAV)   (FaceTracker (96x96 crops  (syncer.sync   (paste_face)
              or boxes)    + mel windows) on batches)

Each stage's heavy call (PyAV decode/encode, OpenCV resize, the torch forward)
releases the GIL, so the stages overlap. Queues are small: the number of frames alive
at once is bounded by the queue sizes times the batch size, whatever the video's
length. The first error in any stage stops the others within ``poll_s`` (50 ms), the
partial output file is deleted, and the error is raised: lipdub's own errors as they
are, anything else wrapped in :class:`~lipdub.errors.PipelineError` naming the stage.

Timing rules (those of the original Wav2Lip, see ``docs``): output frame ``i`` is
driven by the 16 mel columns starting at ``int(i * 80 / fps)`` (clamped to the
spectrogram), and the output has ``frames_for_audio(audio duration, fps)`` frames so
that it covers the whole audio.

When the audio is longer than the video the frames are replayed back and forth
(``audio_longer="pingpong"``: 0..n-1, n-2..1, 0.. — no visible jump) or from the start
(``"loop"``, the original's behaviour). Replays must not hold the whole video in
memory: the engine works out, from the probed frame count, which source frames a
replay will show and *spools* exactly those (plus a small margin) to an anonymous
temporary file on disk during the single decode pass, together with their face boxes;
replays read them back one at a time (one frame in memory, no second decode, no second
detection). A still image keeps its one frame in memory; a sequence (list/array) of
frames is indexed directly.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import os
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, cast

import numpy as np
import numpy.typing as npt

from lipdub._io import same_file
from lipdub.errors import InputError, LipdubError, MediaError, PipelineError
from lipdub.events import EventCallback, Progress, StageFinished, StageStarted, StageWarning, emit
from lipdub.faces.base import FaceDetector, Frame, require_face_found
from lipdub.lipsync._stream import BoundedQueue, Stage, StagePipeline, Stopped
from lipdub.lipsync.base import LipSyncer
from lipdub.types import AudioClip, FaceBox
from lipdub.typing import PathLike, check_frame

if TYPE_CHECKING:
    from lipdub.faces.track import FaceTrack, FaceTracker

__all__ = [
    "LipSyncResult",
    "LipSyncStats",
    "LipSyncStream",
    "auto_batch_size",
    "default_threads",
    "lipsync",
    "lipsync_stream",
    "replay_index",
]

logger = logging.getLogger(__name__)

FaceInput = PathLike | npt.NDArray[np.uint8] | Iterable[npt.NDArray[np.uint8]]
AudioInput = AudioClip | PathLike
AudioLonger = Literal["pingpong", "loop"]
AudioShorter = Literal["trim", "keep"]

MEL_RATE_HZ = 16000
DEFAULT_IMAGE_FPS = Fraction(25)
_FEATHER_DEFAULT = object()  # "use blend.paste_face's own default"

# Queue sizes. Frames queues hold single frames, batch queues whole batches.
_Q_DECODED = 4
_Q_TRACKED = 4
_Q_BATCHES = 1
_Q_GENERATED = 1
_Q_OUT = 4
#: Host memory the frames held in batches may take (bounds the auto batch size): on
#: the CPU the model's batch barely changes its speed, on a GPU larger batches pay.
_HOST_BATCH_BUDGET_BYTES = 384 << 20
_HOST_BATCH_BUDGET_BYTES_CUDA = 1 << 30
_CPU_MAX_BATCH = 8
#: Stages that hold one batch each while working (crop builds one, generate, blend).
_BATCHES_IN_STAGES = 3

# Why a frame is (not) synced.
SYNC, NO_FACE, OUTSIDE_SPEECH, AFTER_AUDIO = 0, 1, 2, 3


# =========================================================================== results


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
        queue_bounds: Each queue's capacity (items; batch queues hold batches).
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


# =========================================================================== sources


class _Source:
    """Where frames come from. ``frames()`` is iterated once, in the decode thread."""

    fps: Fraction
    width: int
    height: int
    count: int | None  # frame count if known (an estimate for videos)
    exact: bool = False  # whether ``count`` is exact
    is_image: bool = False
    label: str = "frames"

    def frames(self) -> Iterator[Frame]:
        raise NotImplementedError

    def at(self, index: int) -> Frame | None:
        """Random access for replays when the source allows it, else None."""
        return None


class _VideoSource(_Source):
    def __init__(self, path: Path, fps: Fraction | None) -> None:
        from lipdub.media import VideoReader

        self.path = path
        self._reader = VideoReader(path, fps=fps)
        info = self._reader.info
        self.fps = info.fps
        self.width, self.height = info.width, info.height
        self.count = info.frame_count
        self.label = str(path)

    def frames(self) -> Iterator[Frame]:
        with self._reader as reader:
            yield from reader


class _ImageSource(_Source):
    is_image = True
    exact = True

    def __init__(self, frame: Frame, fps: Fraction, label: str) -> None:
        self.frame = check_frame(frame, label)
        self.fps = fps
        self.height, self.width = self.frame.shape[:2]
        self.count = 1
        self.label = label

    def frames(self) -> Iterator[Frame]:
        yield self.frame

    def at(self, index: int) -> Frame | None:
        return self.frame


class _SequenceSource(_Source):
    exact = True

    def __init__(self, frames: Sequence[Frame] | npt.NDArray[np.uint8], fps: Fraction) -> None:
        if len(frames) == 0:
            raise InputError("face: the frame sequence is empty", hint="pass at least one frame")
        self.seq: Sequence[Frame] | npt.NDArray[np.uint8] = frames
        self.fps = fps
        first = check_frame(frames[0], "face[0]")
        self.height, self.width = first.shape[:2]
        self.count = len(frames)

    def frames(self) -> Iterator[Frame]:
        for i in range(len(self.seq)):
            yield self.seq[i]

    def at(self, index: int) -> Frame | None:
        return self.seq[index]


class _IterableSource(_Source):
    def __init__(self, frames: Iterable[Frame], fps: Fraction) -> None:
        self._it = iter(frames)
        try:
            first = next(self._it)
        except StopIteration:
            raise InputError(
                "face: the frame iterable is empty", hint="pass at least one frame"
            ) from None
        self._first = check_frame(first, "face[0]")
        self.fps = fps
        self.height, self.width = self._first.shape[:2]
        self.count = None

    def frames(self) -> Iterator[Frame]:
        yield self._first
        yield from self._it


def _open_source(face: FaceInput, fps: float | Fraction | None) -> _Source:
    want = Fraction(fps).limit_denominator(1_000_000) if fps is not None else None
    if want is not None and want <= 0:
        raise InputError(f"fps must be > 0, got {fps}")
    if isinstance(face, (str, os.PathLike)):
        from lipdub.media import is_image, read_image

        path = Path(face)
        if not path.exists():
            raise MediaError("face file not found", path=path, hint="check the path")
        if is_image(path):
            return _ImageSource(read_image(path), want or DEFAULT_IMAGE_FPS, str(path))
        return _VideoSource(path, want)
    if isinstance(face, np.ndarray):
        if face.ndim == 3:
            return _ImageSource(face, want or DEFAULT_IMAGE_FPS, "face image")
        if face.ndim == 4:
            if want is None:
                raise InputError("fps is required when face is an array of frames")
            return _SequenceSource(face, want)
        raise InputError(f"face array must be (H, W, 3) or (N, H, W, 3), got {face.shape}")
    if want is None:
        raise InputError(
            "fps is required when face is an iterable of frames",
            hint="pass fps=25 (or the frames' real rate)",
        )
    if isinstance(face, Sequence):
        return _SequenceSource(cast("Sequence[Frame]", face), want)
    return _IterableSource(face, want)


# =========================================================================== schedule


def replay_index(i: int, n: int, mode: AudioLonger = "pingpong") -> int:
    """The source frame shown at output frame ``i`` when a clip of ``n`` frames repeats.

    ``"pingpong"`` plays 0..n-1, n-2..1, 0..n-1, ... (no jump back to frame 0);
    ``"loop"`` plays 0..n-1, 0..n-1, ...

    Example:
        >>> [replay_index(i, 4) for i in range(10)]
        [0, 1, 2, 3, 2, 1, 0, 1, 2, 3]
        >>> [replay_index(i, 3, "loop") for i in range(7)]
        [0, 1, 2, 0, 1, 2, 0]
    """
    if n <= 1:
        return 0
    if mode == "loop":
        return i % n
    period = 2 * (n - 1)
    k = i % period
    return k if k < n else period - k


def _replay_range(
    n_est: int | None, n_audio: int, mode: AudioLonger, exact: bool
) -> tuple[int, int] | None:
    """Source indices ``[lo, hi)`` a replay will show (with a margin), or None for none."""
    if n_est is None:
        return (0, n_audio)  # unknown length: any frame may be replayed
    margin = 0 if exact else 2 + n_est // 50
    if n_audio <= n_est - margin:
        return None
    n = max(1, n_est - margin)
    shown = {replay_index(i, n, mode) for i in range(n, min(n_audio, n + 2 * n))}
    if not shown:
        shown = {n - 1}
    lo, hi = min(shown), max(shown) + 1
    return (max(0, lo - margin), min(n_audio, max(hi, n_est) + margin))


class _SpanIndex:
    """Which output frames overlap the speech spans (all of them when spans is None)."""

    def __init__(self, spans: Sequence[tuple[float, float]] | None, fps: Fraction) -> None:
        self.all = spans is None
        self.fps = float(fps)
        merged: list[tuple[float, float]] = []
        for a, b in sorted((float(a), float(b)) for a, b in spans or ()):
            if b < a:
                raise InputError(f"speech_spans: end {b} before start {a}")
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        self.starts = [a for a, _ in merged]
        self.ends = [b for _, b in merged]

    def __call__(self, i: int) -> bool:
        if self.all:
            return True
        t0, t1 = i / self.fps, (i + 1) / self.fps
        k = bisect.bisect_left(self.ends, t0)  # first span ending at/after t0
        while k < len(self.starts) and self.starts[k] < t1:
            if self.ends[k] > t0:
                return True
            k += 1
        return False


class _Spool:
    """Source frames (and their boxes) kept for replays: on disk, or in memory for images."""

    def __init__(self, source: _Source, lo_hi: tuple[int, int] | None) -> None:
        self.source = source
        self.lo_hi = lo_hi
        self.boxes: dict[int, FaceBox | None] = {}
        self._offsets: dict[int, tuple[int, tuple[int, ...]]] = {}
        self._file: IO[bytes] | None = None
        self._size = 0
        self.frames_spooled = 0

    def wants(self, idx: int) -> bool:
        return self.lo_hi is not None and self.lo_hi[0] <= idx < self.lo_hi[1]

    def add(self, idx: int, frame: Frame, box: FaceBox | None) -> None:
        self.boxes[idx] = box
        if self.source.at(idx) is not None:
            return
        if self._file is None:
            # closed in close(); anonymous, so the OS frees it even after a crash
            self._file = tempfile.TemporaryFile(prefix="lipdub-spool-")  # noqa: SIM115
        data = np.ascontiguousarray(frame)
        self._file.seek(self._size)
        self._file.write(data.tobytes())
        self._offsets[idx] = (self._size, data.shape)
        self._size += data.nbytes
        self.frames_spooled += 1

    def get(self, idx: int) -> tuple[Frame, FaceBox | None]:
        if idx not in self.boxes:
            near = min(self.boxes, key=lambda k: abs(k - idx))  # estimate was off
            logger.debug("replay wanted source frame %d, using spooled frame %d", idx, near)
            idx = near
        frame = self.source.at(idx)
        if frame is None:
            assert self._file is not None
            offset, shape = self._offsets[idx]
            self._file.seek(offset)
            data = bytearray(self._file.read(int(np.prod(shape))))
            frame = np.frombuffer(data, np.uint8).reshape(shape)
        return frame, self.boxes[idx]

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


# =========================================================================== items


@dataclass(slots=True)
class _Item:
    index: int
    frame: Frame
    status: int
    box: FaceBox | None = None
    crop: npt.NDArray[np.uint8] | None = None
    mel: npt.NDArray[np.float32] | None = None
    generated: npt.NDArray[np.uint8] | None = None


class _Peekable:
    def __init__(self, it: Iterator[tuple[int, Frame]]) -> None:
        self._it = it
        self._head: tuple[int, Frame] | None = None
        self._done = False

    def peek(self) -> tuple[int, Frame] | None:
        if self._head is None and not self._done:
            try:
                self._head = next(self._it)
            except StopIteration:
                self._done = True
        return self._head

    def pop(self) -> tuple[int, Frame]:
        head = self.peek()
        assert head is not None
        self._head = None
        return head


# =========================================================================== stream


class LipSyncStream:
    """Lip-synced frames of a whole clip, produced lazily by a threaded pipeline.

    Build it with :func:`lipsync_stream`. ``fps``, ``width``, ``height`` and
    ``num_frames`` are known before the first frame; iterate (once) to run the
    pipeline, and use it as a context manager (or call :meth:`close`) so the stage
    threads stop if you do not consume every frame. :attr:`stats` fills while frames
    stream.

    Example:
        >>> import numpy as np
        >>> from lipdub.testing import PassThroughLipSyncer
        >>> frames = [np.full((64, 64, 3), i, np.uint8) for i in range(10)]
        >>> audio = AudioClip.silence(0.6, 16000)
        >>> with lipsync_stream(frames, audio, syncer=PassThroughLipSyncer(), fps=25,
        ...                     box=(16, 16, 48, 48)) as stream:
        ...     out = list(stream)
        >>> len(out) == stream.num_frames, stream.stats.frames_synced == len(out)
        (True, True)
    """

    def __init__(
        self,
        source: _Source,
        audio: AudioClip,
        *,
        syncer: LipSyncer,
        tracker: FaceTracker | None,
        track: FaceTrack | None,
        box: FaceBox | None,
        batch_size: int,
        pads: tuple[int, int, int, int],
        speech_spans: Sequence[tuple[float, float]] | None,
        audio_longer: AudioLonger,
        audio_shorter: AudioShorter,
        paste_options: dict[str, Any],
        on_event: EventCallback | None,
        threads: int | None,
        fixed_batch_shape: bool,
    ) -> None:
        from lipdub.audio import frames_for_audio, mel_window_starts, melspectrogram

        self.source = source
        self.audio = audio
        self.syncer = syncer
        self.tracker = tracker
        self.track = track
        self.box = box
        self.batch_size = batch_size
        self.pads = pads
        self.on_event = on_event
        self.threads = threads
        self.fixed_batch_shape = fixed_batch_shape
        self.paste_options = paste_options
        self.audio_longer: AudioLonger = audio_longer
        self.audio_shorter: AudioShorter = audio_shorter
        self.fps = source.fps
        self.width, self.height = source.width, source.height

        clip16 = audio.resample(MEL_RATE_HZ)
        if clip16.num_samples == 0:
            raise InputError("audio: the driving audio is empty", hint="pass speech audio")
        self.mel = np.ascontiguousarray(melspectrogram(clip16.samples), dtype=np.float32)
        self.n_audio = int(frames_for_audio(audio.duration_s, self.fps))
        self.mel_starts = mel_window_starts(self.n_audio, self.fps, num_columns=self.mel.shape[1])
        n_est = source.count
        if audio_shorter == "keep" and n_est is not None and n_est > self.n_audio:
            self.num_frames = n_est
        else:
            self.num_frames = self.n_audio
        replay = _replay_range(n_est, self.n_audio, audio_longer, source.exact)
        self.spool = _Spool(source, replay)
        self.in_speech = _SpanIndex(speech_spans, self.fps)
        self.stats = LipSyncStats(batch_size=batch_size)
        self.pipeline = StagePipeline()
        self._started = False
        self._closed = False
        self._lock = threading.Lock()
        self._in_flight = 0
        self._saved_threads: int | None = None
        self.q_decoded: BoundedQueue[tuple[int, Frame]] = BoundedQueue(
            self.pipeline, "decoded", _Q_DECODED
        )
        self.q_tracked: BoundedQueue[_Item] = BoundedQueue(self.pipeline, "tracked", _Q_TRACKED)
        self.q_batches: BoundedQueue[list[_Item]] = BoundedQueue(
            self.pipeline, "batches", _Q_BATCHES
        )
        self.q_generated: BoundedQueue[list[_Item]] = BoundedQueue(
            self.pipeline, "generated", _Q_GENERATED
        )
        self.q_out: BoundedQueue[_Item] = BoundedQueue(self.pipeline, "out", _Q_OUT)
        self.stats.queue_bounds = {n: q.maxsize for n, q in self.pipeline.queues.items()}
        # decode + tracked queues, the batch being built, batches in queues and
        # stages, the out queue, one frame in the hands of each frame stage, and the
        # tracker's look-ahead.
        self.stats.frames_in_flight_bound = (
            _Q_DECODED
            + _Q_TRACKED
            + _Q_OUT
            + batch_size * (_Q_BATCHES + _Q_GENERATED + _BATCHES_IN_STAGES)
            + 4
            + (_tracker_lookahead(tracker) if tracker is not None else 0)
        )

    # ------------------------------------------------------------------ helpers
    def _enter_frame(self) -> None:
        with self._lock:
            self._in_flight += 1
            if self._in_flight > self.stats.frames_in_flight_peak:
                self.stats.frames_in_flight_peak = self._in_flight

    def _leave_frame(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _mel_window(self, i: int) -> npt.NDArray[np.float32]:
        """The ``(80, 16)`` window of output frame ``i``: start ``int(i*80/fps)``, clamped."""
        width = self.syncer.mel_window
        start = int(self.mel_starts[i]) if i < len(self.mel_starts) else 0
        win = self.mel[:, start : start + width]
        if win.shape[1] < width:  # audio shorter than one window (< 0.2 s)
            pad = np.repeat(win[:, -1:], width - win.shape[1], axis=1)
            win = np.concatenate([win, pad], axis=1)
        return win

    def _status(self, i: int, box: FaceBox | None) -> int:
        if i >= self.n_audio:
            return AFTER_AUDIO
        if not self.in_speech(i):
            return OUTSIDE_SPEECH
        return SYNC if box is not None else NO_FACE

    def _needs_box(self, idx: int) -> bool:
        return (idx < self.n_audio and self.in_speech(idx)) or self.spool.wants(idx)

    # ------------------------------------------------------------------ stages
    def _decode(self) -> None:
        limit = self.n_audio if self.audio_shorter == "trim" else None
        frames = self.source.frames()
        try:
            for idx in itertools.count():
                if limit is not None and idx >= limit:
                    break
                self.pipeline.check()
                try:
                    frame = next(frames)
                except StopIteration:
                    break
                if idx and not self.source.is_image:
                    frame = self._check_size(frame, idx)
                self._enter_frame()
                self.q_decoded.put((idx, frame))
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()
        self.q_decoded.put_end()

    def _check_size(self, frame: Frame, idx: int) -> Frame:
        if (
            not isinstance(frame, np.ndarray)
            or frame.dtype != np.uint8
            or frame.shape != (self.height, self.width, 3)
        ):
            arr = np.asarray(frame)
            raise InputError(
                f"face frame {idx}: expected ({self.height}, {self.width}, 3) uint8 like "
                f"the first frame, got {arr.shape} {arr.dtype}"
            )
        return frame

    def _boxes(self) -> Iterator[tuple[int, Frame, FaceBox | None]]:
        items = self.q_decoded.drain()
        if self.tracker is None:
            for idx, frame in items:
                yield idx, frame, (self._given_box(idx) if self._needs_box(idx) else None)
            return
        it = _Peekable(items)
        while True:
            head = it.peek()
            if head is None:
                return
            if not self._needs_box(head[0]):
                idx, frame = it.pop()
                yield idx, frame, None
                continue
            pending: deque[tuple[int, Frame]] = deque()
            for _frame, found in self.tracker.stream(self._run_needing_box(it, pending)):
                idx, frame = pending.popleft()
                yield idx, frame, found

    def _run_needing_box(self, it: _Peekable, pending: deque[tuple[int, Frame]]) -> Iterator[Frame]:
        """Frames of ``it`` while they need a box; each is remembered in ``pending``."""
        while True:
            nxt = it.peek()
            if nxt is None or not self._needs_box(nxt[0]):
                return
            pending.append(it.pop())
            yield nxt[1]

    def _given_box(self, idx: int) -> FaceBox | None:
        if self.box is not None:
            return self.box
        assert self.track is not None
        return _track_box(self.track, idx)

    def _track_stage(self) -> None:
        n_src = 0
        last: tuple[int, Frame, FaceBox | None] | None = None
        for idx, frame, found in self._boxes():
            n_src = idx + 1
            if self.spool.wants(idx):
                self.spool.add(idx, frame, found)
            last = (idx, frame, found)
            self.q_tracked.put(_Item(idx, frame, self._status(idx, found), found))
        self.stats.source_frames = n_src
        if last is not None and 0 < n_src < self.n_audio:
            if not self.spool.boxes:
                logger.warning(
                    "%s: the video has %d frames, fewer than its header said; holding the "
                    "last frame to cover the audio",
                    self.source.label,
                    n_src,
                )
                self.spool.add(*last)
            for i in range(n_src, self.n_audio):
                self.pipeline.check()
                frame, found = self.spool.get(replay_index(i, n_src, self.audio_longer))
                self._enter_frame()
                self.stats.frames_replayed += 1
                self.q_tracked.put(_Item(i, frame, self._status(i, found), found))
        self.stats.frames_spooled = self.spool.frames_spooled
        self.q_tracked.put_end()

    def _crop_stage(self) -> None:
        from lipdub.lipsync.blend import crop_face

        size = self.syncer.face_size
        top, bottom, left, right = self.pads
        batch: list[_Item] = []
        for item in self.q_tracked.drain():
            if item.status == SYNC and item.box is not None:
                padded = item.box.padded(top, bottom, left, right).clipped(self.width, self.height)
                item.box = padded
                item.crop = crop_face(item.frame, padded, size)
                item.mel = self._mel_window(item.index)
            batch.append(item)
            if len(batch) >= self.batch_size:
                self.q_batches.put(batch)
                batch = []
        if batch:
            self.q_batches.put(batch)
        self.q_batches.put_end()

    def _generate_stage(self) -> None:
        pinned = _pinned_buffers(self.syncer, self.batch_size)
        for batch in self.q_batches.drain():
            todo = [it for it in batch if it.crop is not None and it.mel is not None]
            if todo:
                n = len(todo)
                faces, mels = self._stack(todo, pinned)
                out = np.asarray(self.syncer.sync(faces, mels))
                if out.shape[0] < n or out.shape[1:] != faces.shape[1:]:
                    raise PipelineError(
                        f"lip-syncer {self.syncer.name!r} returned {out.shape} for "
                        f"{faces.shape} faces",
                        backend=self.syncer.name,
                        hint="sync() must return (B, S, S, 3) uint8 crops",
                    )
                if pinned is not None and np.may_share_memory(out, faces):
                    out = out.copy()  # the pinned buffer is reused for the next batch
                for it, gen in zip(todo, out[:n], strict=True):
                    it.generated = gen.astype(np.uint8, copy=False)
                    it.crop = None
                    it.mel = None
            self.q_generated.put(batch)
        self.q_generated.put_end()

    def _stack(
        self,
        todo: list[_Item],
        pinned: tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]] | None,
    ) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]]:
        """``(rows, S, S, 3)`` crops and ``(rows, 80, 16)`` mels of ``todo``.

        ``rows`` is ``len(todo)``, or the batch size when compiled (zero padding). With
        ``pinned`` buffers (CUDA) the batch is assembled in page-locked memory so the
        syncer's host-to-device copy runs asynchronously.
        """
        n = len(todo)
        rows = self.batch_size if self.fixed_batch_shape else n
        crops = [it.crop for it in todo if it.crop is not None]
        windows = [it.mel for it in todo if it.mel is not None]
        if pinned is not None and rows <= len(pinned[0]):
            faces, mels = pinned[0][:rows], pinned[1][:rows]
            np.stack(crops, out=faces[:n])
            np.stack(windows, out=mels[:n])
            faces[n:] = 0
            mels[n:] = 0
            return faces, mels
        faces = np.stack(crops)
        mels = np.stack(windows).astype(np.float32, copy=False)
        if rows > n:
            faces = np.concatenate([faces, np.zeros((rows - n, *faces.shape[1:]), np.uint8)])
            mels = np.concatenate([mels, np.zeros((rows - n, *mels.shape[1:]), np.float32)])
        return faces, mels

    def _blend_stage(self) -> None:
        from lipdub.lipsync.blend import mouth_top_from_landmarks, paste_face

        for batch in self.q_generated.drain():
            for it in batch:
                if it.generated is not None and it.box is not None:
                    it.frame = paste_face(
                        it.frame,
                        it.box,
                        it.generated,
                        mouth_top=mouth_top_from_landmarks(it.box),
                        **self.paste_options,
                    )
                    it.generated = None
                self.q_out.put(it)
        self.q_out.put_end()

    # ------------------------------------------------------------------ running
    def _set_threads(self) -> None:
        if "torch" not in sys.modules or not self.syncer.device.startswith("cpu"):
            return
        import torch

        want = self.threads or default_threads()
        self._saved_threads = torch.get_num_threads()
        torch.set_num_threads(want)

    def _restore_threads(self) -> None:
        if self._saved_threads is not None:
            import torch

            torch.set_num_threads(self._saved_threads)
            self._saved_threads = None

    def __iter__(self) -> Iterator[Frame]:
        if self._started:
            raise InputError("a LipSyncStream can be iterated only once")
        self._started = True
        return self._run()

    def _run(self) -> Iterator[Frame]:
        p = self.pipeline
        p.add_stage("decode", self._decode)
        p.add_stage("track", self._track_stage)
        p.add_stage("crop", self._crop_stage)
        p.add_stage("generate", self._generate_stage)
        p.add_stage("blend", self._blend_stage)
        self._set_threads()
        t0 = time.perf_counter()
        emit(self.on_event, StageStarted("lipsync", total=self.num_frames, unit="frames"))
        p.start()
        done = 0
        last = time.perf_counter()
        try:
            for item in self.q_out.drain():
                self._count(item.status)
                done += 1
                frame = item.frame
                del item
                self._leave_frame()
                yield frame
                now = time.perf_counter()
                if now - last >= 0.2:  # progress, and a point where a caller may cancel
                    last = now
                    emit(self.on_event, Progress("lipsync", done, self.num_frames, "frames"))
        except Stopped:
            pass
        finally:
            self.stats.wall_s = time.perf_counter() - t0
            self.close()
        self._raise_stage_error()
        self.num_frames = done
        emit(self.on_event, Progress("lipsync", done, done, "frames"))
        self._warn_no_face()
        emit(self.on_event, StageFinished("lipsync", elapsed_s=self.stats.wall_s))

    def _count(self, status: int) -> None:
        s = self.stats
        s.frames_total += 1
        if status == SYNC:
            s.frames_synced += 1
        elif status == NO_FACE:
            s.frames_no_face += 1
        elif status == OUTSIDE_SPEECH:
            s.frames_outside_speech += 1
        else:
            s.frames_after_audio += 1

    def _raise_stage_error(self) -> None:
        if self.pipeline.error is None:
            return
        stage, err = self.pipeline.error
        if isinstance(err, LipdubError):
            raise err
        raise PipelineError(
            f"lip-sync failed in the {stage!r} stage: {type(err).__name__}: {err}",
            path=self.source.label if stage == "decode" else None,
            backend=self.syncer.name if stage == "generate" else None,
            hint="see the chained exception for the cause",
        ) from err

    def _warn_no_face(self) -> None:
        s = self.stats
        if s.frames_no_face:
            msg = (
                f"{s.frames_no_face} of {s.frames_total} frames had no face and were left "
                f"unchanged ({s.frames_synced} lip-synced)"
            )
            logger.warning("%s: %s", self.source.label, msg)
            emit(self.on_event, StageWarning("lipsync", message=msg))

    def close(self) -> None:
        """Stop the stage threads (if running) and release the spool; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self.pipeline.close()
        self._restore_threads()
        self.spool.close()
        s = self.stats
        s.stage_busy_s = {k: round(v, 4) for k, v in self.pipeline.busy_s().items()}
        s.stage_wall_s = {k: round(v.wall_s, 4) for k, v in self.pipeline.stages.items()}
        s.queue_peaks = {n: q.peak for n, q in self.pipeline.queues.items()}

    def __enter__(self) -> LipSyncStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def default_threads() -> int:
    """torch threads for the generator on the CPU: every core up to 4, else cores - 1.

    Decode, tracking, blending and encoding together need about half a core at the
    generator's pace (720p, 2-core EPYC: 12 frames/s with 2 torch threads vs 9 with
    1), so on small machines the model gets every core and the other stages slot in;
    on larger ones one core is left to them.
    """
    cores = os.cpu_count() or 1
    return cores if cores <= 4 else cores - 1


def _tracker_lookahead(tracker: FaceTracker) -> int:
    """Frames a :class:`FaceTracker` may hold (its documented bound, with margin)."""
    every = int(getattr(tracker, "detect_every", 1))
    batch = int(getattr(tracker, "batch_size", 1))
    gap = int(getattr(tracker, "max_gap", 0))
    smooth = int(getattr(tracker, "smooth_window", 1))
    return batch * every + gap + smooth + every + 2


def _track_box(track: FaceTrack, idx: int) -> FaceBox | None:
    """Box of source frame ``idx`` in a precomputed track (None past its end)."""
    boxes: Sequence[FaceBox | None] = track.boxes
    return boxes[idx] if idx < len(boxes) else None


# =========================================================================== public API


def _as_box(box: FaceBox | Sequence[float] | None) -> FaceBox | None:
    if box is None or isinstance(box, FaceBox):
        return box
    vals = [float(v) for v in box]
    if len(vals) != 4:
        raise InputError(f"box must be (x1, y1, x2, y2), got {box!r}")
    return FaceBox(vals[0], vals[1], vals[2], vals[3])


def _load_audio(audio: AudioInput, rate_hz: int) -> AudioClip:
    if isinstance(audio, AudioClip):
        return audio
    from lipdub.media import load_audio

    return load_audio(audio, sample_rate_hz=rate_hz)


def auto_batch_size(syncer: LipSyncer, frame_bytes: int) -> int:
    """A batch size for ``syncer`` that also keeps the frames in flight within budget.

    On CUDA the syncer's suggestion is raised to fill about half the free GPU memory
    (about 24 MiB per crop, fp16 activations with margin). On the CPU it is at most 8:
    there the cost per crop does not fall beyond 8 crops (Wav2Lip, one thread: 0.095 s
    per crop at batch 8, 0.10 s at 16), while every crop in a batch holds a full frame.
    Either way the full frames held by the batches in flight stay under 384 MiB of host
    memory on the CPU (at 720p: batch <= 27; at 1080p: <= 12) and 1 GiB with CUDA
    (720p: <= 77; 1080p: <= 34).

    Args:
        syncer: The lip-syncer.
        frame_bytes: Bytes of one full frame (``H * W * 3``).

    Returns:
        Crops per ``sync`` call, >= 1.
    """
    size = max(1, int(syncer.suggested_batch_size()))
    budget = _HOST_BATCH_BUDGET_BYTES
    if syncer.device.startswith("cuda") and "torch" in sys.modules:
        import torch

        if torch.cuda.is_available():
            budget = _HOST_BATCH_BUDGET_BYTES_CUDA
            free_b, _ = torch.cuda.mem_get_info(torch.device(syncer.device))
            size = max(size, min(512, int(free_b * 0.5) // (24 << 20)))
    else:
        size = min(size, _CPU_MAX_BATCH)
    held = _Q_BATCHES + _Q_GENERATED + _BATCHES_IN_STAGES
    cap = max(1, budget // (held * max(1, frame_bytes)))
    return max(1, min(size, cap))


def lipsync_stream(
    face: FaceInput,
    audio: AudioInput,
    *,
    syncer: LipSyncer,
    detector: FaceDetector | str | None = None,
    tracker: FaceTracker | None = None,
    track: FaceTrack | None = None,
    box: FaceBox | Sequence[float] | None = None,
    fps: float | Fraction | None = None,
    batch_size: int | None = None,
    pads: tuple[int, int, int, int] = (0, 10, 0, 0),
    speech_spans: Sequence[tuple[float, float]] | None = None,
    audio_longer: AudioLonger = "pingpong",
    audio_shorter: AudioShorter = "trim",
    on_event: EventCallback | None = None,
    feather: Any = _FEATHER_DEFAULT,
    color_match: bool = False,
    mouth_only: bool = True,
    threads: int | None = None,
    compile: bool = False,
) -> LipSyncStream:
    """Plan a lip-sync run and return its lazy frame stream (see :func:`lipsync`).

    Nothing runs until the stream is iterated; the caller encodes (or inspects) the
    frames. The arguments are those of :func:`lipsync` (without the output options),
    plus:

    Args:
        box: A fixed face box ``(x1, y1, x2, y2)`` in frame pixels used for every frame
            (no detection), like the original's ``--box``.

    Returns:
        A :class:`LipSyncStream` yielding ``(H, W, 3)`` uint8 BGR frames.
    """
    if audio_longer not in ("pingpong", "loop"):
        raise InputError(f"audio_longer must be 'pingpong' or 'loop', got {audio_longer!r}")
    if audio_shorter not in ("trim", "keep"):
        raise InputError(f"audio_shorter must be 'trim' or 'keep', got {audio_shorter!r}")
    if len(pads) != 4:
        raise InputError(f"pads must be (top, bottom, left, right), got {pads!r}")
    if batch_size is not None and batch_size < 1:
        raise InputError(f"batch_size must be >= 1, got {batch_size}")
    fixed = _as_box(box)
    given = sum(x is not None for x in (detector, tracker, track, fixed))
    if given > 1:
        raise InputError("pass only one of detector=, tracker=, track= or box=")
    if isinstance(syncer, str):
        from lipdub import registry

        syncer = registry.resolve("lipsyncer", syncer)
    if tracker is None and track is None and fixed is None:
        from lipdub.faces.track import FaceTracker

        det = detector if detector is not None else "retinaface"
        if isinstance(det, str):
            from lipdub import registry

            det = registry.resolve("detector", det)
        # one keyframe per detector call keeps the tracker's look-ahead short (~22
        # frames instead of ~40): detection batching gains little at 640 px
        tracker = FaceTracker(det, batch_size=1)
    clip = _load_audio(audio, MEL_RATE_HZ)
    source = _open_source(face, fps)
    bs = batch_size or auto_batch_size(syncer, source.width * source.height * 3)
    if compile:
        _compile_syncer(syncer)
    paste: dict[str, Any] = {"color_match": color_match, "mouth_only": mouth_only}
    if feather is not _FEATHER_DEFAULT:
        paste["feather"] = feather
    return LipSyncStream(
        source,
        clip,
        syncer=syncer,
        tracker=tracker,
        track=track,
        box=fixed,
        batch_size=bs,
        pads=(int(pads[0]), int(pads[1]), int(pads[2]), int(pads[3])),
        speech_spans=speech_spans,
        audio_longer=audio_longer,
        audio_shorter=audio_shorter,
        paste_options=paste,
        on_event=on_event,
        threads=threads,
        fixed_batch_shape=compile,
    )


def _compile_syncer(syncer: LipSyncer) -> None:
    """``torch.compile`` the syncer's network (it then sees one batch shape).

    Uses the syncer's own ``compile()`` if it has one, else wraps its ``model``
    attribute (a ``torch.nn.Module``, as :class:`~lipdub.lipsync.wav2lip.Wav2LipSyncer`
    has) with ``torch.compile(dynamic=False)``.
    """
    fn: Callable[[], Any] | None = getattr(syncer, "compile", None)
    if callable(fn):
        fn()
        return
    model = getattr(syncer, "model", None)
    if model is not None and "torch" in sys.modules:
        import torch

        if isinstance(model, torch.nn.Module):
            setattr(syncer, "model", torch.compile(model, dynamic=False))  # noqa: B010
            return
    logger.warning("lip-syncer %r cannot be compiled; running it as is", syncer.name)


def _pinned_buffers(
    syncer: LipSyncer, batch_size: int
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]] | None:
    """Page-locked host buffers for one batch when the syncer runs on CUDA, else None."""
    if not syncer.device.startswith("cuda") or "torch" not in sys.modules:
        return None
    import torch

    if not torch.cuda.is_available():
        return None
    s = syncer.face_size
    faces = torch.empty((batch_size, s, s, 3), dtype=torch.uint8).pin_memory().numpy()
    mels = (
        torch.empty((batch_size, syncer.mel_bands, syncer.mel_window), dtype=torch.float32)
        .pin_memory()
        .numpy()
    )
    return faces, mels


def lipsync(
    face: FaceInput,
    audio: AudioInput,
    output: PathLike,
    *,
    syncer: LipSyncer,
    detector: FaceDetector | str | None = None,
    tracker: FaceTracker | None = None,
    track: FaceTrack | None = None,
    box: FaceBox | Sequence[float] | None = None,
    fps: float | Fraction | None = None,
    batch_size: int | None = None,
    pads: tuple[int, int, int, int] = (0, 10, 0, 0),
    speech_spans: Sequence[tuple[float, float]] | None = None,
    audio_longer: AudioLonger = "pingpong",
    audio_shorter: AudioShorter = "trim",
    output_audio: AudioInput | None = None,
    on_event: EventCallback | None = None,
    crf: int = 18,
    preset: str = "medium",
    feather: Any = _FEATHER_DEFAULT,
    color_match: bool = False,
    mouth_only: bool = True,
    threads: int | None = None,
    compile: bool = False,
    require_face: bool = False,
    frame_filter: Callable[[int, Frame], Frame] | None = None,
) -> LipSyncResult:
    """Re-sync the lips of the face in a video (or still image) to a speech track.

    The video is decoded once, streamed through face tracking, the lip-sync model and
    blending, and encoded once; memory stays flat whatever the length. The output
    covers the whole driving audio: it has ``frames_for_audio(audio duration, fps)``
    frames (its length equals the audio's within one frame).

    Args:
        face: A video file, an image file (png/jpg), one ``(H, W, 3)`` uint8 BGR frame
            (a still image), or a sequence/iterable of such frames (then ``fps`` is
            required).
        audio: The driving speech (an :class:`AudioClip` or an audio/video file). It is
            resampled to 16 kHz for the mel spectrogram.
        output: The MP4 to write (atomically: nothing appears on failure).
        syncer: The lip-sync model (e.g. ``Wav2LipSyncer.from_pretrained("wav2lip_gan")``)
            or its registry name.
        detector: Face detector (instance or registry name) wrapped in a default
            :class:`~lipdub.faces.track.FaceTracker`; ``"retinaface"`` when no
            detector, tracker, track or box is given.
        tracker: A configured face tracker (instead of ``detector``).
        track: Precomputed face boxes per source frame (instead of detecting).
        box: A fixed ``(x1, y1, x2, y2)`` face box in frame pixels for every frame.
        fps: Output frame rate. Videos are resampled to it (default: their own rate);
            still images default to 25; required for frame iterables.
        batch_size: Crops per model call; default from the syncer and free memory
            (see :func:`auto_batch_size`).
        pads: Pixels added to the face box ``(top, bottom, left, right)`` before
            cropping (the original's ``--pads``; default includes the chin).
        speech_spans: ``(start_s, end_s)`` spans of speech; frames outside them keep
            their original pixels and the model does not run on them. None: all.
        audio_longer: When the audio outlasts the video: ``"pingpong"`` (play the frames
            back and forth) or ``"loop"`` (restart from frame 0, like the original).
        audio_shorter: When the video outlasts the audio: ``"trim"`` the video to the
            audio, or ``"keep"`` the rest of the video unchanged (the muxed audio is
            padded with silence).
        output_audio: The sound track to mux (default: ``audio``), e.g. the full remix
            while ``audio`` is the clean speech that drives the lips.
        on_event: Progress callback (:mod:`lipdub.events`); stage name ``"lipsync"``.
        crf: x264 quality (0 lossless .. 51; 18 visually lossless).
        preset: x264 speed preset.
        feather: Edge softness of the pasted mouth region (see
            :func:`lipdub.lipsync.blend.paste_face`; default: its default).
        color_match: Match the generated crop's colours to the frame before pasting.
        mouth_only: Blend only the lower half of the face box (False with
            ``feather=0`` is the original Wav2Lip's plain paste of the whole box).
        threads: torch CPU threads for the model (default: :func:`default_threads`);
            ignored on GPU.
        compile: ``torch.compile`` the model (the syncer's ``compile()``) and feed it
            fixed-shape batches (padding the last one).

        frame_filter: Called as ``frame_filter(index, frame)`` on every output frame
            just before encoding; returns the frame to write (e.g. a
            :class:`~lipdub.dub.subtitles.SubtitleBurner`). It must not modify ``frame``
            in place.
        require_face: Raise :class:`~lipdub.errors.NoFaceError` (and write nothing)
            when no frame that needed lip-sync showed a face, instead of writing the
            video unchanged.

    Returns:
        A :class:`LipSyncResult` with the counts and per-stage busy time.

    Raises:
        NoFaceError: With ``require_face``, no face was found.
        InputError: Bad arguments or frames.
        MediaError: An input cannot be read or the output cannot be written.
        PipelineError: A stage failed with an unexpected error (the cause is chained).

    Example:
        >>> import os, tempfile
        >>> from lipdub.testing import PassThroughLipSyncer
        >>> from lipdub.testing.media import make_test_video, speech_tones
        >>> d = tempfile.mkdtemp()
        >>> clip = make_test_video(os.path.join(d, "in.mp4"), duration_s=0.4,
        ...                        size=(64, 48), audio=False)
        >>> res = lipsync(clip, speech_tones(0.8), os.path.join(d, "out.mp4"),
        ...               syncer=PassThroughLipSyncer(), box=(16, 8, 48, 40),
        ...               preset="ultrafast")
        >>> res.frames_total, res.frames_synced, res.stats.frames_replayed
        (20, 20, 10)
    """
    for given in (face, audio, output_audio):
        if isinstance(given, (str, os.PathLike)) and same_file(given, output):
            raise InputError(
                "the output would overwrite an input of the lip-sync",
                path=Path(output),
                hint="choose another output name (-o)",
            )
    stream = lipsync_stream(
        face,
        audio,
        syncer=syncer,
        detector=detector,
        tracker=tracker,
        track=track,
        box=box,
        fps=fps,
        batch_size=batch_size,
        pads=pads,
        speech_spans=speech_spans,
        audio_longer=audio_longer,
        audio_shorter=audio_shorter,
        on_event=on_event,
        feather=feather,
        color_match=color_match,
        mouth_only=mouth_only,
        threads=threads,
        compile=compile,
    )
    from lipdub.media import VideoWriter

    mux = stream.audio
    if output_audio is not None:
        mux = _load_audio(output_audio, 48000)
    elif not isinstance(audio, AudioClip):
        mux = _load_audio(audio, 48000)
    if audio_shorter == "keep" and stream.num_frames > stream.n_audio:
        mux = mux.pad_to(max(mux.duration_s, float(stream.num_frames / stream.fps)))
    out = Path(output)
    encode = Stage("encode")
    with stream:
        try:
            writer = VideoWriter(
                out,
                fps=stream.fps,
                width=stream.width,
                height=stream.height,
                audio=mux,
                crf=crf,
                preset=preset,
            )
        except OSError as e:
            if isinstance(e, LipdubError):
                raise
            raise MediaError(
                f"cannot create the output video: {e}", path=out, hint="choose a writable folder"
            ) from e
        with writer:
            try:
                for index, frame in enumerate(stream):
                    if frame_filter is not None:
                        frame = frame_filter(index, frame)
                    t0 = time.perf_counter()
                    writer.write(frame)
                    encode.wall_s += time.perf_counter() - t0
            except LipdubError:
                raise
            except Exception as e:
                raise PipelineError(
                    f"lip-sync failed in the 'encode' stage: {type(e).__name__}: {e}",
                    path=out,
                    hint="see the chained exception for the cause",
                ) from e
            checked = stream.stats.frames_no_face
            if require_face and checked:
                require_face_found(
                    checked,
                    stream.stats.frames_synced,
                    source=face if isinstance(face, (str, os.PathLike)) else None,
                )
            t0 = time.perf_counter()
            writer.close()
            encode.wall_s += time.perf_counter() - t0
    stats = stream.stats
    stats.stage_busy_s["encode"] = round(encode.busy_s, 4)
    return LipSyncResult(
        output=out,
        frames_total=stats.frames_total,
        frames_synced=stats.frames_synced,
        frames_no_face=stats.frames_no_face,
        frames_outside_speech=stats.frames_outside_speech,
        fps=stream.fps,
        duration_s=float(stats.frames_total / stream.fps),
        stage_busy_s=dict(stats.stage_busy_s),
        stats=stats,
    )
