"""What :func:`~lipdub.distributed.dub_many` checks before it starts Ray.

Starting Ray costs seconds (12-17 s on a laptop, more for a large manifest), so every
mistake that can be seen from here is refused first, in one line: an argument of the
wrong type (named), and every input that is missing or not a regular file (listed
together, so that a 10,000-row manifest with three bad rows is fixed in one go).
Nothing here imports Ray.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from lipdub._checks import (
    callable_arg,
    cancel_arg,
    describe,
    int_arg,
    number_arg,
    optional_path_arg,
    path_arg,
    str_arg,
)
from lipdub._io import file_kind
from lipdub.distributed.manifest import BatchItem
from lipdub.errors import InputError, printable

__all__ = ["check_batch_args", "check_inputs_exist"]

#: How many bad inputs the error names before it says "and N more".
_LISTED = 10


def _items(inputs: object) -> list[BatchItem]:
    if inputs is None or isinstance(inputs, (str, bytes, os.PathLike, Mapping, BatchItem)):
        raise InputError(
            f"inputs must be a list of videos (paths, BatchItems or mappings); "
            f"got {describe(inputs)}",
            hint="wrap a single video in a list: [video]",
        )
    if not isinstance(inputs, Iterable):
        raise InputError(f"inputs must be a list of videos; got {describe(inputs)}")
    items = []
    for n, value in enumerate(inputs):
        if not isinstance(value, (BatchItem, str, os.PathLike, Mapping)):
            raise InputError(
                f"inputs[{n}] must be a path, a BatchItem or a mapping; got {describe(value)}"
            )
        if isinstance(value, (str, os.PathLike)):
            path_arg(value, f"inputs[{n}]")
        items.append(BatchItem.of(value))
    if not items:
        raise InputError("no inputs to dub", hint="list at least one video")
    return items


def check_batch_args(
    *,
    inputs: object,
    targets: object,
    pipeline: object,
    workdir_root: object,
    output_dir: object,
    address: object,
    num_cpus: object,
    gpus_per_task: object,
    max_retries: object,
    api_concurrency: object,
    on_event: object,
    cancel: object,
    ray_logging_level: object,
) -> list[BatchItem]:
    """The inputs as :class:`BatchItem` objects; :class:`InputError` names a wrong argument."""
    from lipdub.distributed.worker import PipelineSpec
    from lipdub.dub.arguments import check_targets

    items = _items(inputs)
    check_targets(targets, "targets")
    if pipeline is not None and not isinstance(pipeline, (PipelineSpec, Mapping)):
        raise InputError(
            f"pipeline must be a PipelineSpec, a mapping of slot to backend name, or None; "
            f"got {describe(pipeline)}",
            hint='e.g. {"voice": "google"}',
        )
    path_arg(workdir_root, "workdir_root")
    optional_path_arg(output_dir, "output_dir")
    str_arg(address, "address", optional=True, empty=False)
    int_arg(num_cpus, "num_cpus", low=1, optional=True)
    number_arg(gpus_per_task, "gpus_per_task", low=0, optional=True)
    int_arg(max_retries, "max_retries", low=0)
    if api_concurrency is not None:
        if not isinstance(api_concurrency, Mapping):
            raise InputError(
                f"api_concurrency must be a mapping of quota name to a count; "
                f"got {describe(api_concurrency)}"
            )
        for name, count in api_concurrency.items():
            str_arg(name, "a quota name of api_concurrency", empty=False)
            int_arg(count, f"api_concurrency[{name!r}]", low=1)
    callable_arg(on_event, "on_event", what="a function taking a BatchEvent")
    cancel_arg(cancel)
    int_arg(ray_logging_level, "ray_logging_level", low=0)
    return items


def check_inputs_exist(items: list[BatchItem]) -> None:
    """Raise one :class:`InputError` listing every input that is not a regular file.

    Example:
        >>> try:
        ...     check_inputs_exist([BatchItem.of("/nonexistent/a.mp4")])
        ... except InputError as e:
        ...     print(e.message)
        1 of 1 inputs cannot be read: /nonexistent/a.mp4 (not found)
    """
    bad: list[str] = []
    for item in items:
        kind = file_kind(item.input)
        if kind is None:
            continue
        why = "not found" if kind == "missing" else kind
        bad.append(f"{printable(item.input, newlines=False)} ({why})")
    if not bad:
        return
    listed = ", ".join(bad[:_LISTED])
    more = f", and {len(bad) - _LISTED} more" if len(bad) > _LISTED else ""
    raise InputError(
        f"{len(bad)} of {len(items)} inputs cannot be read: {listed}{more}",
        hint="fix or remove those rows; a relative path is relative to the manifest's "
        "folder. Nothing was started",
    )
