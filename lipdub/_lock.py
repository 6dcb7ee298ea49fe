"""A lock between processes on a file in a work directory (``flock``).

Two processes sharing one work directory (two review pages, one dub per language under
``lipdub batch``) serialise their read-check-write steps with it: the manifest's merge
(``.manifest.lock``) and a review save's version check and write (``.review.lock``).
The lock file is work-directory data, so it is opened without following a symlink and
used only when it is a regular file: a planted link never creates or opens a file
elsewhere.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from lipdub.errors import InputError

__all__ = ["exclusive_lock"]


@contextlib.contextmanager
def exclusive_lock(path: Path, *, required: bool = True) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the ``with`` block.

    Args:
        path: The lock file, inside a work directory.
        required: When False, a lock file that cannot be created for lack of
            permission (a read-only folder) is passed over: the write it guards will
            fail with its own message. A symlink or a non-regular file is refused
            either way.

    Raises:
        InputError: the lock file is a symlink or not a regular file, or (when
            ``required``) it cannot be opened.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover (Windows): one process per work directory
        yield
        return
    hint = f"remove {path.name} from the work directory; lipdub makes it again"
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise InputError(
                f"{path.name} in the work directory is a symlink; lipdub does not follow it",
                path=path,
                hint=hint,
            ) from e
        if not required and e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            yield
            return
        raise InputError(
            f"cannot open the lock file {path.name}: {e.strerror or e}", path=path, hint=hint
        ) from e
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InputError(
                f"{path.name} in the work directory is not a regular file", path=path, hint=hint
            )
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
