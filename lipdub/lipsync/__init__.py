"""Lip-sync backends and the video lip-sync engine. The interface is :class:`LipSyncer`.

:func:`lipsync` and :func:`lipsync_stream` (from :mod:`lipdub.lipsync.engine`) are
imported on first use, so ``import lipdub`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lipdub.lipsync.base import LipSyncer

if TYPE_CHECKING:
    from lipdub.lipsync.engine import LipSyncOptions, LipSyncResult, lipsync, lipsync_stream

__all__ = ["LipSyncOptions", "LipSyncResult", "LipSyncer", "lipsync", "lipsync_stream"]

_LAZY = {"lipsync", "lipsync_stream", "LipSyncResult", "LipSyncOptions"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from lipdub.lipsync import engine

        return getattr(engine, name)
    raise AttributeError(f"module 'lipdub.lipsync' has no attribute {name!r}")
