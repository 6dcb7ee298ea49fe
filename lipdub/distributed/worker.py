"""What runs inside a worker: one (video, language) dub from a picklable spec.

Nothing here imports Ray; :mod:`lipdub.distributed.batch` wraps :func:`dub_task` in a
Ray task. The pipeline travels as :class:`PipelineSpec` (registry names and options),
so every worker builds its own components and loads its own models.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lipdub.errors import InputError
from lipdub.events import Event, StageFinished, StageStarted
from lipdub.slots import SLOTS as _SLOTS
from lipdub.slots import slot as _slot

if TYPE_CHECKING:
    from lipdub.dub.options import DubOptions
    from lipdub.dub.pipeline import DubbingPipeline

__all__ = ["QUOTA_STAGES", "PipelineSpec", "dub_task", "quota_name"]

#: The slots a spec may name (every slot of :data:`lipdub.slots.SLOTS`).
SLOTS = tuple(s.kind for s in _SLOTS)

#: The stages that call a backend which may be a cloud API, and the slot they use.
QUOTA_STAGES = {"transcribe": "transcriber", "translate": "translator", "speak": "voice"}


@dataclass(frozen=True)
class PipelineSpec:
    """A :class:`~lipdub.dub.pipeline.DubbingPipeline` as names, for other processes.

    Args:
        components: Slot -> registry name, ``(name, {options})`` or
            ``{"name": ..., **options}`` (slots left out take the pipeline's defaults).
        device: Torch device for the detector and lip-syncer (None: CUDA if the worker
            has one).
        options: Dub options.
        setup: Called in each worker before the components are built (register your
            own backends there; must be picklable), e.g.
            :func:`lipdub.testing.register_fakes` for the test doubles.

    Example:
        >>> s = PipelineSpec({"voice": ("fake", {"seconds_per_word": 0.2})})
        >>> s.name_of("voice"), s.name_of("transcriber")
        ('fake', 'whisper')
    """

    components: Mapping[str, Any] = field(default_factory=dict)
    device: str | None = None
    options: DubOptions | None = None
    setup: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        for slot, spec in self.components.items():
            if slot not in SLOTS:
                raise InputError(
                    f"no component slot {slot!r}", hint=f"use one of {', '.join(SLOTS)}"
                )
            if not isinstance(spec, str | tuple | Mapping):
                raise InputError(
                    f"the {slot} of a distributed pipeline must be a registry name or "
                    f"(name, options), not a {type(spec).__name__} instance",
                    hint="workers build their own components: pass names and options",
                )

    def name_of(self, slot: str) -> str:
        """The registry name in ``slot`` (``""`` for a slot left empty, as the diarizer
        is by default)."""
        spec = self.components.get(slot)
        if spec is None:
            return _slot(slot).default or ""
        if isinstance(spec, tuple):
            return str(spec[0])
        if isinstance(spec, Mapping):
            return str(spec.get("name"))
        return str(spec)

    def build(self) -> DubbingPipeline:
        """The pipeline (in the worker)."""
        from lipdub.dub.pipeline import DubbingPipeline

        if self.setup is not None:
            self.setup()
        kwargs = {_slot(s).argument: spec for s, spec in self.components.items()}
        return DubbingPipeline(**kwargs, device=self.device, options=self.options)


def quota_name(spec: PipelineSpec, stage: str, limits: Mapping[str, int]) -> str | None:
    """The quota a stage is counted under: ``"<slot>.<name>"`` or ``"<name>"`` in ``limits``.

    Example:
        >>> quota_name(PipelineSpec({"voice": "google"}), "speak", {"google": 4})
        'google'
        >>> quota_name(PipelineSpec({"voice": "google"}), "lipsync", {"google": 4}) is None
        True
    """
    slot = QUOTA_STAGES.get(stage)
    if slot is None:
        return None
    name = spec.name_of(slot)
    for key in (f"{slot}.{name}", name):
        if key in limits:
            return key
    return None


def dub_task(
    spec: PipelineSpec,
    input: str,
    language: str,
    output: str | None,
    workdir: str,
    *,
    source_language: str | None = None,
    text: str | None = None,
    limits: Mapping[str, int] | None = None,
    acquire: Callable[[str], None] | None = None,
    release: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Dub ``input`` into ``language`` in ``workdir``; returns what a TaskRecord needs.

    Stages already done in ``workdir`` (by this or another task) are reused by the
    pipeline's own keys. The transcribe, translate and speak stages of a backend named
    in ``limits`` run between ``acquire(quota)`` and ``release(quota)``.
    """
    t0 = time.perf_counter()
    pipeline = spec.build()
    held: list[str] = []

    def on_event(event: Event) -> None:
        if acquire is None or release is None or not limits:
            return
        quota = quota_name(spec, event.stage, limits)
        if quota is None:
            return
        if isinstance(event, StageStarted):
            acquire(quota)
            held.append(quota)
        elif isinstance(event, StageFinished) and quota in held:
            held.remove(quota)
            release(quota)

    try:
        result = pipeline.run(
            input,
            language,
            output,
            source_language=source_language,
            text=text,
            workdir=workdir,
            on_event=on_event,
        )
    finally:
        if release is not None:
            for quota in held:
                release(quota)
    return {
        "output": str(result.output) if result.output else None,
        "ran": list(result.ran),
        "reused": list(result.reused),
        "timings": dict(result.timings),
        "wall_s": round(time.perf_counter() - t0, 3),
        "worker": f"{socket.gethostname()}:{os.getpid()}",
        "workdir": str(Path(workdir)),
    }
