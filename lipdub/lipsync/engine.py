"""The whole-video lip-sync engine: :func:`lipsync` and :func:`lipsync_stream`.

:func:`lipsync` turns a face video (or a still image, or frames you hand it) and a
driving speech track into an MP4 whose lips follow the speech: it plans a
:class:`~lipdub.lipsync.syncstream.LipSyncStream` (threads connected by queues sized in
bytes: decode, face boxes, crop, generate, blend) and encodes its frames. The engine is
model-agnostic: audio features, their windows, batch layout, runtime tuning and
compilation are the :class:`~lipdub.lipsync.base.LipSyncer`'s; no module of the engine
imports torch.

The parts, one job each: :mod:`~lipdub.lipsync.sources` (where frames come from),
:mod:`~lipdub.lipsync.boxes` (where the face is), :mod:`~lipdub.lipsync.schedule`
(replays, speech spans, the disk spool), :mod:`~lipdub.lipsync.syncstream` (the
threaded stream), :mod:`~lipdub.lipsync.options` (the frozen options object),
:mod:`~lipdub.lipsync.results` (what a run reports).

Timing rules (those of the original Wav2Lip): output frame ``i`` is driven by the
syncer's audio window for frame ``i`` (Wav2Lip: 16 mel columns from ``int(i * 80 /
fps)``), and the output has ``frames_for_audio(audio duration, fps)`` frames so that it
covers the whole audio; when the audio is longer than the video the frames are replayed
(``audio_longer``), read back from a disk spool rather than kept in memory.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lipdub._io import same_file
from lipdub.errors import InputError, LipdubError, MediaError, PipelineError
from lipdub.events import EventCallback
from lipdub.faces.base import require_face_found
from lipdub.lipsync._stream import Stage
from lipdub.lipsync.arguments import check_lipsync_args
from lipdub.lipsync.base import LipSyncer, default_threads
from lipdub.lipsync.boxes import FaceBoxes, FixedBox, TrackBoxes, TrackerBoxes
from lipdub.lipsync.options import LipSyncOptions, auto_batch_size
from lipdub.lipsync.results import LipSyncResult, LipSyncStats
from lipdub.lipsync.schedule import replay_index
from lipdub.lipsync.sources import FaceInput, open_source
from lipdub.lipsync.syncstream import LipSyncStream
from lipdub.types import AudioClip, FaceBox
from lipdub.typing import PathLike

if TYPE_CHECKING:
    from lipdub.media.audio import AudioFile

__all__ = [
    "LipSyncOptions",
    "LipSyncResult",
    "LipSyncStats",
    "LipSyncStream",
    "auto_batch_size",
    "default_threads",
    "lipsync",
    "lipsync_stream",
    "replay_index",
]

AudioInput = AudioClip | PathLike
MEL_RATE_HZ = 16000


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


def _face_boxes(opts: LipSyncOptions) -> FaceBoxes:
    """The face source the options name (a default RetinaFace tracker when none)."""
    fixed = _as_box(opts.box)
    if fixed is not None:
        return FixedBox(fixed)
    if opts.track is not None:
        return TrackBoxes(opts.track)
    tracker = opts.tracker
    if tracker is None:
        from lipdub import registry
        from lipdub.faces.track import FaceTracker

        det = opts.detector if opts.detector is not None else "retinaface"
        if isinstance(det, str):
            det = registry.resolve("detector", det)
        # one keyframe per detector call keeps the tracker's look-ahead short (~22
        # frames instead of ~40): detection batching gains little at 640 px
        tracker = FaceTracker(det, batch_size=1)
    return TrackerBoxes(tracker)


def lipsync_stream(
    face: FaceInput,
    audio: AudioInput,
    *,
    syncer: LipSyncer | str,
    options: LipSyncOptions | None = None,
    on_event: EventCallback | None = None,
    **overrides: Any,
) -> LipSyncStream:
    """Plan a lip-sync run and return its lazy frame stream (see :func:`lipsync`).

    Nothing runs until the stream is iterated; the caller encodes (or inspects) the
    frames. The options are those of :func:`lipsync`; the output options (``crf``,
    ``preset``, ``output_audio``, ``require_face``, ``frame_filter``) are not used.

    Returns:
        A :class:`~lipdub.lipsync.syncstream.LipSyncStream` yielding ``(H, W, 3)``
        uint8 BGR frames.

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
    check_lipsync_args(face=face, audio=audio, syncer=syncer, options=options, on_event=on_event)
    opts = LipSyncOptions.merge(options, overrides)
    if isinstance(syncer, str):
        from lipdub import registry

        syncer = registry.resolve("lipsyncer", syncer)
    if not isinstance(syncer, LipSyncer):
        raise InputError(
            f"syncer must be a LipSyncer or its registry name, got {type(syncer).__name__}",
            hint="e.g. Wav2LipSyncer.from_pretrained('wav2lip_gan') or 'wav2lip_gan'",
        )
    faces = _face_boxes(opts)
    clip = _load_audio(audio, MEL_RATE_HZ)
    source = open_source(face, opts.fps)  # a bad input fails before any slow preparation
    syncer.prepare(on_event=on_event, threads=opts.threads)  # one-time work, reported
    bs = opts.batch_size or auto_batch_size(syncer, source.width * source.height * 3)
    if opts.compile:
        syncer.compile()
    paste: dict[str, Any] = {
        "color_match": opts.color_match,
        "mouth_only": opts.mouth_only,
        "shape": opts.mask,
    }
    if opts.feather is not None:
        paste["feather"] = opts.feather
    pads = opts.pads
    return LipSyncStream(
        source,
        clip,
        syncer=syncer,
        faces=faces,
        batch_size=bs,
        pads=(int(pads[0]), int(pads[1]), int(pads[2]), int(pads[3])),
        speech_spans=opts.speech_spans,
        audio_longer=opts.audio_longer,
        audio_shorter=opts.audio_shorter,
        paste_options=paste,
        on_event=on_event,
        threads=opts.threads,
        fixed_batch_shape=opts.compile,
    )


def lipsync(
    face: FaceInput,
    audio: AudioInput,
    output: PathLike,
    *,
    syncer: LipSyncer | str,
    options: LipSyncOptions | None = None,
    on_event: EventCallback | None = None,
    **overrides: Any,
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
        options: A :class:`~lipdub.lipsync.options.LipSyncOptions`; the keyword
            arguments below override its fields (they are its fields).
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
            :func:`lipdub.lipsync.blend.paste_face`; None: its default).
        color_match: Match the generated crop's colours to the frame before pasting.
        mask: ``"ellipse"`` (default: a feathered ellipse over the mouth, fitted to the
            face's landmarks; no straight edge) or ``"box"`` (the lower part of the box
            with feathered edges, lipdub's earlier paste).
        mouth_only: Blend only the lower half of the face box (False with
            ``feather=0`` is the original Wav2Lip's plain paste of the whole box).
        threads: CPU threads for the model (the syncer's ``running()``; default:
            :func:`~lipdub.lipsync.base.default_threads`); ignored on GPU.
        compile: Compile the model (the syncer's ``compile()``) and feed it
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
    check_lipsync_args(
        face=face, audio=audio, output=output, syncer=syncer, options=options, on_event=on_event
    )
    opts = LipSyncOptions.merge(options, overrides)
    for given in (face, audio, opts.output_audio):
        if isinstance(given, (str, os.PathLike)) and same_file(given, output):
            raise InputError(
                "the output would overwrite an input of the lip-sync",
                path=Path(output),
                hint="choose another output name (-o)",
            )
    stream = lipsync_stream(face, audio, syncer=syncer, options=opts, on_event=on_event)
    # the sound to mux: a file is decoded as the encoder goes (a long track is never
    # held whole at 48 kHz), a clip is used as given
    sound = opts.output_audio if opts.output_audio is not None else audio
    keep_s = 0.0
    if opts.audio_shorter == "keep" and stream.num_frames > stream.n_audio:
        keep_s = float(stream.num_frames / stream.fps)
    mux: AudioClip | AudioFile
    if isinstance(sound, AudioClip):
        mux = sound.pad_to(max(sound.duration_s, keep_s)) if keep_s else sound
    else:
        from lipdub.media.audio import AudioFile

        mux = AudioFile(sound, 48000, pad_to_s=keep_s)
    out = Path(output)
    encode = _encode(stream, out, mux, opts, face)
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


def _encode(
    stream: LipSyncStream,
    out: Path,
    mux: AudioClip | AudioFile,
    opts: LipSyncOptions,
    face: FaceInput,
) -> Stage:
    """Write the stream's frames to ``out`` (atomically) with ``mux`` as its sound."""
    from lipdub.media import VideoWriter
    from lipdub.media.look import VideoLook

    encode = Stage("encode")
    # shown as the input was: pixel aspect ratio, rotation, colour range and tags
    look = VideoLook.of(face) if isinstance(face, (str, os.PathLike)) else None
    with stream:
        try:
            writer = VideoWriter(
                out,
                fps=stream.fps,
                width=stream.width,
                height=stream.height,
                audio=mux,
                crf=opts.crf,
                preset=opts.preset,
                look=look,
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
                    if opts.frame_filter is not None:
                        frame = opts.frame_filter(index, frame)
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
            if opts.require_face and checked:
                require_face_found(
                    checked,
                    stream.stats.frames_synced,
                    source=face if isinstance(face, (str, os.PathLike)) else None,
                )
            t0 = time.perf_counter()
            writer.close()
            encode.wall_s += time.perf_counter() - t0
    return encode
