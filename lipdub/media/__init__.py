"""Reading and writing video, images and audio with PyAV (FFmpeg's libraries, in-process).

* :func:`probe` -> :class:`~lipdub.types.VideoInfo` (size after rotation, exact fps,
  frame count, audio, rotation, variable frame rate).
* :class:`VideoReader` / :func:`iter_frames` stream ``(H, W, 3)`` uint8 BGR frames,
  upright and at a constant rate, in constant memory. Still images (png, jpg, webp,
  bmp) work wherever a video does, as a one-frame source.
* :func:`read_image`, :func:`is_image`.
* :func:`load_audio` -> mono float32 :class:`~lipdub.types.AudioClip` at a chosen rate,
  from audio files or a video's sound track; :class:`AudioFile` reads the same samples
  chunk by chunk (what :class:`VideoWriter` muxes without holding a long track whole).
* :class:`VideoWriter` / :func:`write_video` -> H.264 + AAC MP4, written atomically.
* :func:`mux_audio` replaces an MP4's sound without re-encoding its video.
* :func:`write_audio` saves an :class:`~lipdub.types.AudioClip` as wav/flac/mp3/m4a/ogg/opus.

No ``ffmpeg`` binary and no temporary intermediate files are used. Every failure to
read or write a file is a :class:`~lipdub.errors.MediaError` naming the file.

Example:
    >>> import os, tempfile
    >>> from lipdub.testing.media import make_test_video
    >>> clip = make_test_video(os.path.join(tempfile.mkdtemp(), "in.mp4"),
    ...                        duration_s=0.4, size=(64, 48))
    >>> out = write_video(os.path.join(os.path.dirname(clip), "out.mp4"),
    ...                   iter_frames(clip), fps=probe(clip).fps, audio=load_audio(clip))
    >>> probe(out).frame_count, round(load_audio(out).duration_s, 2)
    (10, 0.4)
"""

from lipdub.media.audio import AudioFile, load_audio
from lipdub.media.reader import VideoReader, is_image, iter_frames, probe, read_image
from lipdub.media.writer import VideoWriter, mux_audio, write_audio, write_video

__all__ = [
    "AudioFile",
    "VideoReader",
    "VideoWriter",
    "is_image",
    "iter_frames",
    "load_audio",
    "mux_audio",
    "probe",
    "read_image",
    "write_audio",
    "write_video",
]
