"""Per-API concurrency limits across a cluster: one small Ray actor counts the calls.

The actor holds, for every quota name (``"google"``, ``"voice.google"``...), the tasks
currently inside a stage that calls that API; ``acquire`` waits while the quota is
full. A task that dies while holding a permit gives it back when it is retried
(``release_all`` of its holder name, called when any attempt starts).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

__all__ = ["ApiLimiter"]


class ApiLimiter:
    """Counting semaphores by name (made a Ray actor by :mod:`lipdub.distributed.batch`).

    Example:
        >>> lim = ApiLimiter({"google": 1})
        >>> asyncio.run(lim.acquire("google", "a.mp4:es"))
        >>> asyncio.run(lim.release_all("a.mp4:es")), asyncio.run(lim.peak())
        (1, {'google': 1})
    """

    def __init__(self, limits: Mapping[str, int]) -> None:
        self.limits = {k: max(1, int(v)) for k, v in limits.items()}
        self.held: dict[str, list[str]] = {k: [] for k in self.limits}
        self.most: dict[str, int] = {k: 0 for k in self.limits}

    async def acquire(self, quota: str, holder: str) -> None:
        """Wait until ``quota`` has room, then count ``holder`` in it."""
        while len(self.held[quota]) >= self.limits[quota]:
            await asyncio.sleep(0.02)
        self.held[quota].append(holder)
        self.most[quota] = max(self.most[quota], len(self.held[quota]))

    async def release(self, quota: str, holder: str) -> None:
        """Give back one permit of ``holder``."""
        if holder in self.held.get(quota, []):
            self.held[quota].remove(holder)

    async def release_all(self, holder: str) -> int:
        """Give back every permit ``holder`` holds (a retried task's dead attempt's)."""
        n = 0
        for names in self.held.values():
            while holder in names:
                names.remove(holder)
                n += 1
        return n

    async def peak(self) -> dict[str, int]:
        """The most permits held at once, per quota (to check a limit held)."""
        return dict(self.most)
