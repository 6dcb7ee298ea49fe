"""Dub a catalogue — many videos × many languages — on a Ray cluster (``lipdub[ray]``).

:func:`dub_many` runs one Ray task per (video, language); the language-independent
stages of a video (extract, transcribe, separate, track) are done once, by the task of
its first language, and shared through the video's work directory. Without an
``address`` a local Ray is started, the same code path as on a cluster. See
``docs/scaling.md``.

Importing this package does not import Ray; :func:`dub_many` does.
"""

from __future__ import annotations

from lipdub.distributed.batch import DEFAULT_API_CONCURRENCY, dub_many, workdir_for
from lipdub.distributed.manifest import BatchItem, load_manifest
from lipdub.distributed.report import BatchEvent, BatchEventCallback, BatchReport, TaskRecord
from lipdub.distributed.worker import PipelineSpec

__all__ = [
    "DEFAULT_API_CONCURRENCY",
    "BatchEvent",
    "BatchEventCallback",
    "BatchItem",
    "BatchReport",
    "PipelineSpec",
    "TaskRecord",
    "dub_many",
    "load_manifest",
    "workdir_for",
]
