"""Reading the text files a person may have written or edited: transcripts, subtitle
files, ``speakers.json``, ``faces.json``.

Each is untrusted input, so it is read the same careful way: its kind checked without
opening it (a named pipe would block), its size capped before it is read, UTF-8
required (with a guess at the encoding it has instead), and every refusal one
:class:`~lipdub.errors.InputError` naming the file.
"""

from __future__ import annotations

import os
from pathlib import Path

from lipdub._io import file_kind

__all__ = ["MAX_TEXT_FILE_BYTES", "read_json_file", "read_text_file"]


#: Largest text file lipdub reads whole by default (a real transcript is a few hundred kB).
MAX_TEXT_FILE_BYTES = 64 << 20


def read_text_file(
    path: str | os.PathLike[str],
    what: str,
    *,
    max_bytes: int = MAX_TEXT_FILE_BYTES,
    hint: str | None = None,
) -> str:
    """The UTF-8 text of a file a person may have written (BOM allowed), or one
    :class:`~lipdub.errors.InputError` naming the file and why not: missing, not a
    regular file (checked without opening: a pipe would block), over ``max_bytes``
    (checked before reading), unreadable, or not UTF-8 (with a guess at its encoding).

    Args:
        path: The file.
        what: What the file is, for the message (``"transcript"``, ``"speaker map"``).
        max_bytes: The largest file read.
        hint: What to do, for every refusal but a missing file.
    """
    from lipdub.errors import InputError
    from lipdub.text import guess_encoding

    p = Path(path)
    kind = file_kind(p)
    if kind == "missing":
        raise InputError(f"{what} file not found", path=p, hint="check the path")
    if kind is not None:
        raise InputError(f"cannot read the {what}: it is {kind}", path=p, hint=hint)
    try:
        size = p.stat().st_size
        if size > max_bytes:
            raise InputError(
                f"the {what} file is {size >> 20} MiB; a {what} is at most {max_bytes >> 20} MiB",
                path=p,
                hint=hint,
            )
        data = p.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read the {what}: {e.strerror}", path=p, hint=hint) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        guess = guess_encoding(data, sniff=64)
        seen = f" (it looks like {guess[0]})" if guess else ""
        raise InputError(
            f"the {what} is not UTF-8 text{seen}: undecodable byte 0x{data[e.start]:02x} "
            f"at offset {e.start}",
            path=p,
            hint=hint or "save it again as UTF-8",
        ) from None


def read_json_file(
    path: str | os.PathLike[str],
    what: str,
    *,
    max_bytes: int = MAX_TEXT_FILE_BYTES,
    hint: str | None = None,
) -> object:
    """The JSON value of a file a person may have written, read as
    :func:`read_text_file` reads it; a file that is not JSON (or nested too deeply to
    parse) is one :class:`~lipdub.errors.InputError` naming it."""
    import json

    from lipdub.errors import InputError

    text = read_text_file(path, what, max_bytes=max_bytes, hint=hint)
    try:
        return json.loads(text)
    except RecursionError:
        why = "nested too deeply"
    except ValueError as e:
        why = str(e).splitlines()[0][:200]
    raise InputError(f"the {what} is not readable JSON: {why}", path=Path(path), hint=hint)
