"""A lock between processes around a save: version check and write as one step.

Two review pages (two servers, two processes) on one work directory must never both
accept a save made against the same version. The lock file ``.review.lock`` lies in
the work directory; being work-directory data, it is opened without following a
symlink and used only when it is a regular file.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from lipdub.errors import InputError

__all__ = ["LOCK_NAME", "save_lock"]

LOCK_NAME = ".review.lock"


@contextlib.contextmanager
def save_lock(root: Path) -> Iterator[None]:
    """Hold the work directory's save lock (``flock``) for the ``with`` block.

    Raises:
        InputError: the lock file cannot be opened, or is not a regular file (a
            symlink, a FIFO, a folder): nothing is saved.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover (Windows): one process per work directory
        yield
        return
    path = root / LOCK_NAME
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    hint = f"remove {LOCK_NAME} from the work directory; lipdub makes it again"
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as e:
        raise InputError(
            f"cannot open the save lock {LOCK_NAME}: {e.strerror or e}", path=root, hint=hint
        ) from e
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InputError(
                f"the save lock {LOCK_NAME} is not a regular file", path=root, hint=hint
            )
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
