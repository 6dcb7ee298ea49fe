"""Lip-sync backends and the video lip-sync engine. The interface is :class:`LipSyncer`."""

from lipdub.lipsync.base import LipSyncer

__all__ = ["LipSyncer"]
