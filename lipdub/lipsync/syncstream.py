"""The threaded lip-sync stream: decode → boxes → crop → generate → blend, in flat memory.

:class:`LipSyncStream` runs five stages in threads connected by bounded queues
(:mod:`lipdub.lipsync._stream`); the caller consumes the frames (and encodes them)::

    decode ──► boxes ──► crop ──► generate ──► blend ──► caller
    (source)  (FaceBoxes)  (crops +     (syncer.sync   (paste_face)
                            audio windows) on batches)

Each stage's heavy call (PyAV, OpenCV, the model) releases the GIL, so the stages
overlap. Queue capacities come from byte budgets and the frame size (a 1080p frame
is 6 MB, a 720p one 2.8 MB), so the memory held by frames in flight stays about the
same whatever the resolution or the video's length. The first error in any stage stops
the others within ``poll_s`` (50 ms) and is raised: lipdub's own errors as they are,
anything else wrapped in :class:`~lipdub.errors.PipelineError` naming the stage.

Everything model-specific — audio features and their windows, batch layout, runtime
tuning — is asked of the :class:`~lipdub.lipsync.base.LipSyncer`; this module imports
no torch.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from lipdub.errors import InputError, LipdubError, PipelineError
from lipdub.events import EventCallback, Progress, StageFinished, StageStarted, StageWarning, emit
from lipdub.lipsync._stream import BoundedQueue, StagePipeline, Stopped
from lipdub.lipsync.base import LipSyncer
from lipdub.lipsync.boxes import FaceBoxes
from lipdub.lipsync.results import AFTER_AUDIO, NO_FACE, OUTSIDE_SPEECH, SYNC, LipSyncStats
from lipdub.lipsync.schedule import AudioLonger, SpanIndex, Spool, replay_index, replay_range
from lipdub.lipsync.sources import FrameSource
from lipdub.types import AudioClip, FaceBox
from lipdub.typing import Frame

__all__ = ["FRAME_QUEUE_BYTES", "AudioShorter", "LipSyncStream", "frame_queue_size"]

logger = logging.getLogger(__name__)

AudioShorter = Literal["trim", "keep"]

#: Bytes of frames each single-frame queue may hold (720p: 5 frames, 1080p: 2).
FRAME_QUEUE_BYTES = 16 << 20
_FRAME_QUEUE_MIN, _FRAME_QUEUE_MAX = 2, 8
#: Batch queues hold whole batches (the batch size itself is sized in bytes).
_Q_BATCHES = 1
_Q_GENERATED = 1
#: Stages that hold one batch each while working (crop builds one, generate, blend).
BATCHES_IN_STAGES = 3
BATCHES_HELD = _Q_BATCHES + _Q_GENERATED + BATCHES_IN_STAGES


def frame_queue_size(frame_bytes: int, budget: int = FRAME_QUEUE_BYTES) -> int:
    """Capacity of a single-frame queue: ``budget`` bytes of frames, 2 to 8 frames.

    Example:
        >>> frame_queue_size(1280 * 720 * 3), frame_queue_size(1920 * 1080 * 3)
        (6, 2)
    """
    return max(_FRAME_QUEUE_MIN, min(_FRAME_QUEUE_MAX, budget // max(1, frame_bytes)))


@dataclass(slots=True)
class _Item:
    index: int
    frame: Frame
    status: int
    box: FaceBox | None = None
    crop: npt.NDArray[np.uint8] | None = None
    window: npt.NDArray[np.float32] | None = None
    generated: npt.NDArray[np.uint8] | None = None


class LipSyncStream:
    """Lip-synced frames of a whole clip, produced lazily by a threaded pipeline.

    Build it with :func:`~lipdub.lipsync.engine.lipsync_stream`. ``fps``, ``width``,
    ``height`` and ``num_frames`` are known before the first frame; iterate (once) to
    run the pipeline, and use it as a context manager (or call :meth:`close`) so the
    stage threads stop if you do not consume every frame. :attr:`stats` fills while
    frames stream.
    """

    def __init__(
        self,
        source: FrameSource,
        audio: AudioClip,
        *,
        syncer: LipSyncer,
        faces: FaceBoxes,
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
        from lipdub.audio import frames_for_audio

        self.source = source
        self.audio = audio
        self.syncer = syncer
        self.faces = faces
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

        self.features = syncer.audio_features(audio)
        self.n_audio = int(frames_for_audio(audio.duration_s, self.fps))
        n_est = source.count
        if audio_shorter == "keep" and n_est is not None and n_est > self.n_audio:
            self.num_frames = n_est
        else:
            self.num_frames = self.n_audio
        self.spool = Spool(source, replay_range(n_est, self.n_audio, audio_longer, source.exact))
        self.in_speech = SpanIndex(speech_spans, self.fps)
        self.stats = LipSyncStats(batch_size=batch_size)
        self.pipeline = StagePipeline()
        self._started = False
        self._closed = False
        self._lock = threading.Lock()
        self._in_flight = 0
        self._runtime: AbstractContextManager[None] | None = None
        q = frame_queue_size(self.width * self.height * 3)
        p = self.pipeline
        self.q_decoded: BoundedQueue[tuple[int, Frame]] = BoundedQueue(p, "decoded", q)
        self.q_tracked: BoundedQueue[_Item] = BoundedQueue(p, "tracked", q)
        self.q_batches: BoundedQueue[list[_Item]] = BoundedQueue(p, "batches", _Q_BATCHES)
        self.q_generated: BoundedQueue[list[_Item]] = BoundedQueue(p, "generated", _Q_GENERATED)
        self.q_out: BoundedQueue[_Item] = BoundedQueue(p, "out", q)
        self.stats.queue_bounds = {n: qq.maxsize for n, qq in p.queues.items()}
        # the three frame queues, the batches in queues and stages, one frame in the
        # hands of each frame stage, and the face source's look-ahead.
        self.stats.frames_in_flight_bound = 3 * q + batch_size * BATCHES_HELD + 4
        self.stats.frames_in_flight_bound += faces.lookahead_frames

    # ------------------------------------------------------------------ helpers
    def _enter_frame(self) -> None:
        with self._lock:
            self._in_flight += 1
            if self._in_flight > self.stats.frames_in_flight_peak:
                self.stats.frames_in_flight_peak = self._in_flight

    def _leave_frame(self) -> None:
        with self._lock:
            self._in_flight -= 1

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
            close = getattr(frames, "close", None)  # a generator's close()
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

    def _track_stage(self) -> None:
        n_src = 0
        last: tuple[int, Frame, FaceBox | None] | None = None
        for idx, frame, found in self.faces.boxes(self.q_decoded.drain(), self._needs_box):
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
                item.window = self.syncer.audio_window(self.features, item.index, self.fps)
            batch.append(item)
            if len(batch) >= self.batch_size:
                self.q_batches.put(batch)
                batch = []
        if batch:
            self.q_batches.put(batch)
        self.q_batches.put_end()

    def _generate_stage(self) -> None:
        for batch in self.q_batches.drain():
            todo = [it for it in batch if it.crop is not None and it.window is not None]
            if todo:
                n = len(todo)
                rows = self.batch_size if self.fixed_batch_shape else n
                faces, windows = self.syncer.make_batch(
                    [it.crop for it in todo if it.crop is not None],
                    [it.window for it in todo if it.window is not None],
                    rows,
                )
                out = np.asarray(self.syncer.sync(faces, windows))
                if out.shape[0] < n or out.shape[1:] != faces.shape[1:]:
                    raise PipelineError(
                        f"lip-syncer {self.syncer.name!r} returned {out.shape} for "
                        f"{faces.shape} faces",
                        backend=self.syncer.name,
                        hint="sync() must return (B, S, S, 3) uint8 crops",
                    )
                if np.may_share_memory(out, faces):
                    out = out.copy()  # the syncer may reuse its batch buffers
                for it, gen in zip(todo, out[:n], strict=True):
                    it.generated = gen.astype(np.uint8, copy=False)
                    it.crop = None
                    it.window = None
            self.q_generated.put(batch)
        self.q_generated.put_end()

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
        self._runtime = self.syncer.running(self.threads)
        self._runtime.__enter__()
        t0 = time.perf_counter()
        emit(self.on_event, StageStarted("lipsync", total=self.num_frames, unit="frames"))
        p.start()
        done = 0
        last = time.perf_counter()
        last_done = 0
        try:
            for item in self.q_out.drain():
                self._count(item.status)
                done += 1
                frame = item.frame
                del item
                self._leave_frame()
                yield frame
                now = time.perf_counter()
                # progress, and a point where a caller may cancel: every 0.2 s, and
                # every 25 frames however fast they come
                if now - last >= 0.2 or done - last_done >= 25:
                    last, last_done = now, done
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
        if self._runtime is not None:
            self._runtime.__exit__(None, None, None)
            self._runtime = None
        self.spool.close()
        s = self.stats
        s.stage_busy_s = {k: round(v, 4) for k, v in self.pipeline.busy_s().items()}
        s.stage_wall_s = {k: round(v.wall_s, 4) for k, v in self.pipeline.stages.items()}
        s.queue_peaks = {n: q.peak for n, q in self.pipeline.queues.items()}

    def __enter__(self) -> LipSyncStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
