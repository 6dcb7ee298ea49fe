"""Atomic file writes: a temporary file in the target folder, then a rename.

A crash or an exception never leaves a half-written output under the final name.

Temporary files are named ``.NAME.PID-XXXX.tmp.EXT`` (``out.mp4`` ->
``.out.mp4.4242-k3j9.tmp.mp4``): hidden, beside the output, and carrying the id of the
process writing them. Those still open are tracked, so the CLI's SIGTERM handler can
delete them (:func:`remove_in_flight`); those a killed process left behind (SIGKILL,
power loss) are deleted by the next write of the same output (:func:`remove_stale`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

logger = logging.getLogger(__name__)

_UMASK: int | None = None
_UMASK_LOCK = threading.Lock()

#: Temporary files being written by this process (removed by :func:`remove_in_flight`).
_IN_FLIGHT: set[Path] = set()
_IN_FLIGHT_LOCK = threading.Lock()

#: A temporary file whose writer cannot be identified is stale after this many seconds
#: without a change (one whose writer process is gone is stale at once).
STALE_AFTER_S = 600.0


def _umask() -> int:
    """The process umask (read once; reading it means setting it, so under a lock)."""
    global _UMASK
    with _UMASK_LOCK:
        if _UMASK is None:
            _UMASK = os.umask(0o022)
            os.umask(_UMASK)
        return _UMASK


def file_kind(path: str | os.PathLike[str]) -> str | None:
    """None if ``path`` is a regular file (or a link to one), else what it is instead.

    Uses ``os.stat`` only, so a named pipe or a device is recognised without opening it
    (opening a FIFO blocks until someone writes to it).

    Example:
        >>> import tempfile
        >>> file_kind(tempfile.gettempdir())
        'a folder'
        >>> file_kind("/no/such/file")
        'missing'
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "missing"
    except OSError as e:
        return f"not accessible ({e.strerror or type(e).__name__})"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: exists, owned by someone else
        return True
    return True


def remove_stale(path: str | os.PathLike[str], *, suffix: str | None = None) -> list[Path]:
    """Delete lipdub's leftover temporary files for the output ``path``.

    A temporary file ``.NAME.PID-XXXX.tmp.EXT`` is stale when process ``PID`` no longer
    exists; one without a process id (older lipdub versions: ``.NAME.XXXX.tmp.EXT``)
    when unchanged for :data:`STALE_AFTER_S` seconds. Files of running writers are kept.

    Returns:
        The files deleted.
    """
    final = Path(path)
    sfx = final.suffix if suffix is None else suffix
    prefix = f".{final.name}."
    tail = f".tmp{sfx}"
    removed: list[Path] = []
    try:
        candidates = [
            e
            for e in os.scandir(final.parent)
            if e.name.startswith(prefix) and e.name.endswith(tail)
        ]
    except OSError:
        return removed
    now = time.time()
    for entry in candidates:
        middle = entry.name[len(prefix) : len(entry.name) - len(tail)]
        if "." in middle or not middle:  # another output's name that merely starts alike
            continue
        m = re.fullmatch(r"(\d+)-[A-Za-z0-9_]+", middle)
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        if m is not None:
            pid = int(m.group(1))
            if pid == os.getpid():
                with _IN_FLIGHT_LOCK:
                    stale = Path(entry.path) not in _IN_FLIGHT
            else:
                stale = not _pid_alive(pid)
        else:
            stale = now - st.st_mtime > STALE_AFTER_S
        if stale:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
                logger.info("removed a stale temporary file: %s", entry.path)
    return removed


def remove_in_flight() -> list[Path]:
    """Delete every temporary file this process is writing (for signal handlers).

    The outputs they were meant for are not created. Safe to call from a signal
    handler: it only unlinks files.
    """
    with _IN_FLIGHT_LOCK:
        paths = list(_IN_FLIGHT)
        _IN_FLIGHT.clear()
    removed = []
    for p in paths:
        with contextlib.suppress(OSError):
            p.unlink()
            removed.append(p)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it into place.

    The temporary name keeps the final suffix (``out.mp4`` ->
    ``.out.mp4.PID-XXXX.tmp.mp4``) so libraries that pick a format by extension still
    work. On an exception the temporary file is removed and the exception propagates;
    ``path`` is untouched. Stale temporary files of earlier, killed runs for the same
    output are deleted first (:func:`remove_stale`).
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    sfx = final.suffix if suffix is None else suffix
    remove_stale(final, suffix=sfx)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{final.name}.{os.getpid()}-", suffix=f".tmp{sfx}", dir=final.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    with _IN_FLIGHT_LOCK:
        _IN_FLIGHT.add(tmp)
    try:
        yield tmp
        with contextlib.suppress(OSError):  # mkstemp makes 0600; give the usual mode
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    finally:
        with _IN_FLIGHT_LOCK:
            _IN_FLIGHT.discard(tmp)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and return the final path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically and return the final path."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether two paths name the same file: equal, a symlink, or a hard link."""
    pa, pb = Path(a), Path(b)
    try:
        if pa.resolve() == pb.resolve():
            return True
        return pa.exists() and pb.exists() and os.path.samefile(pa, pb)
    except OSError:
        return False
