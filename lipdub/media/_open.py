"""Opening media files with PyAV and turning its errors into :class:`MediaError`.

Everything in :mod:`lipdub.media` opens files through :func:`open_input`, so a missing
file, a text file renamed ``.mp4`` or a truncated download all fail the same way: one
:class:`~lipdub.errors.MediaError` that names the file and says what to do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import av.container

from lipdub._checks import path_arg
from lipdub._io import file_kind
from lipdub.errors import MediaError
from lipdub.typing import PathLike

#: Suffixes treated as still images when the content does not say otherwise.
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"})

#: FFmpeg demuxers that read a single still picture.
IMAGE_FORMATS = frozenset(
    {
        "image2",
        "png_pipe",
        "jpeg_pipe",
        "webp_pipe",
        "bmp_pipe",
        "tiff_pipe",
        "jpegls_pipe",
        "jpegxl_pipe",
    }
)

REENCODE_HINT = "check that it plays in a media player, or re-export it as MP4 (H.264 + AAC)"


def check_exists(path: PathLike, name: str = "path") -> Path:
    """``path`` as a :class:`Path`, or :class:`MediaError` if it is not a readable file.

    Named pipes (FIFOs), devices and sockets are refused without being opened (opening
    a FIFO would wait forever for a writer). A ``path`` that is not a path at all
    (None, a number) is an :class:`~lipdub.errors.InputError` naming argument ``name``.
    """
    p = path_arg(path, name)
    kind = file_kind(p)
    if kind == "missing":
        raise MediaError("file not found", path=p, hint="check the path and the file name")
    if kind == "a folder":
        raise MediaError("is a folder, not a media file", path=p, hint="pass a video or image file")
    if kind is not None:
        raise MediaError(
            f"is {kind}, not a regular media file",
            path=p,
            hint="save the media to a file first and pass that file",
        )
    if p.stat().st_size == 0:
        raise MediaError(
            "file is empty (0 bytes)", path=p, hint="the copy or download failed; redo it"
        )
    return p


def _reason(err: BaseException) -> str:
    """A short, jargon-free reason for a PyAV/FFmpeg error."""
    if isinstance(err, av.error.InvalidDataError):
        return "not a video, audio or image file that can be read, or it is damaged"
    if isinstance(err, PermissionError):
        return "permission denied"
    if isinstance(err, av.error.EOFError):
        return "the file ends too early (truncated)"
    if isinstance(err, av.error.DecoderNotFoundError):
        return "its codec is not supported"
    strerror = getattr(err, "strerror", None)
    return str(strerror or err).strip() or type(err).__name__


def media_error(
    path: PathLike, what: str, err: BaseException, hint: str = REENCODE_HINT
) -> MediaError:
    """A :class:`MediaError` for ``what`` failing on ``path`` because of ``err``."""
    return MediaError(f"{what}: {_reason(err)}", path=path, hint=hint)


def _looks_like_mp4(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            head = fh.read(12)
    except OSError:
        return False
    return head[4:8] in (b"ftyp", b"mdat", b"moov", b"wide", b"free")


def open_input(path: PathLike) -> av.container.InputContainer:
    """Open ``path`` for reading with PyAV; raise :class:`MediaError` on any failure."""
    p = check_exists(path)
    try:
        container = av.open(str(p), mode="r", metadata_errors="ignore")
    except (av.FFmpegError, OSError, UnicodeDecodeError) as e:
        if isinstance(e, av.error.InvalidDataError) and _looks_like_mp4(p):
            raise MediaError(
                "the file starts like an MP4/MOV but is incomplete (truncated, or still "
                "being written)",
                path=p,
                hint="get the complete file; a recording must be stopped properly",
            ) from e
        raise media_error(p, "cannot open media file", e) from e
    check_not_truncated(container, p)
    return container


def check_not_truncated(container: av.container.InputContainer, path: Path) -> None:
    """Raise :class:`MediaError` if an MP4/MOV index points past the end of the file.

    MP4s written with the index up front (``faststart``) still open when their tail is
    missing; their sample table says where every packet lives, so compare it with the
    file size instead of discovering the damage halfway through decoding.
    """
    if "mp4" not in container.format.name and "mov" not in container.format.name:
        return
    size = path.stat().st_size
    end = 0
    for stream in container.streams:
        entries: Any = stream.index_entries
        n = len(entries)
        # Packets are stored in (roughly) increasing file order; the last few suffice.
        for i in range(max(0, n - 8), n):
            e = entries[i]
            end = max(end, int(e.pos) + int(e.size))
    if end > size:
        container.close()
        raise MediaError(
            f"file is truncated ({size} of {end} bytes present)",
            path=path,
            hint="the copy or download did not finish; get the complete file",
        )
