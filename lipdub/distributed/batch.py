"""``dub_many``: many videos into many languages, as Ray tasks.

One Ray task per (video, language). The first language of each video goes first and
also does the video's language-independent stages (extract, transcribe, separate,
track) in the video's work directory; the other languages of that video start when
it is done and reuse those artifacts through the pipeline's own keys, in parallel
(the work directory's manifest is safe to share between processes). Work
directories live under ``workdir_root``, which must be storage every worker sees.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lipdub.distributed.manifest import BatchItem
from lipdub.distributed.quota import ApiLimiter
from lipdub.distributed.report import BatchEvent, BatchEventCallback, BatchReport, TaskRecord
from lipdub.distributed.worker import QUOTA_STAGES, PipelineSpec, dub_task, quota_name
from lipdub.errors import (
    BackendError,
    Cancelled,
    CheckpointError,
    ChecksumMismatch,
    CredentialsError,
    EditConflict,
    InputError,
    LipdubError,
    ModelNotFoundError,
    NoFaceError,
)
from lipdub.events import CancelSignal

__all__ = ["DEFAULT_API_CONCURRENCY", "dub_many", "workdir_for"]

logger = logging.getLogger(__name__)

#: Quota per cloud backend name when ``api_concurrency`` is not given.
DEFAULT_API_CONCURRENCY: Mapping[str, int] = {"google": 4}

#: Errors another attempt cannot fix: the batch does not retry them.
_FINAL = (
    InputError,
    BackendError,
    NoFaceError,
    EditConflict,
    Cancelled,
    CredentialsError,
    ModelNotFoundError,
    ChecksumMismatch,
    CheckpointError,
)


def workdir_for(item: BatchItem, root: str | os.PathLike[str]) -> Path:
    """The work directory of one video: ``<root>/<stem>-<hash of its path>``.

    Example:
        >>> workdir_for(BatchItem(Path("/v/talk.mp4")), "/w").name.startswith("talk-")
        True
    """
    digest = hashlib.sha256(str(item.input.resolve()).encode()).hexdigest()[:10]
    return Path(root) / f"{item.input.stem}-{digest}"


def _output_for(item: BatchItem, lang: str, n_langs: int, output_dir: Path | None) -> str | None:
    if item.output is not None:
        pattern = str(item.output)
        if n_langs > 1 and "{lang}" not in pattern:
            raise InputError(
                f"{item.input.name}: {n_langs} target languages need one output each",
                path=item.output,
                hint="put {lang} in the output name, e.g. talk.{lang}.mp4",
            )
        return pattern.replace("{lang}", lang)
    if output_dir is not None:
        return str(output_dir / f"{item.input.stem}.{lang}.mp4")
    return None


def _ray_dub(
    spec: PipelineSpec,
    input: str,
    language: str,
    output: str | None,
    workdir: str,
    source_language: str | None,
    text: str | None,
    limits: Mapping[str, int],
    limiter: Any,
    holder: str,
) -> dict[str, Any]:
    """The body of the Ray task (runs in a worker)."""
    import ray

    acquire = release = None
    if limiter is not None:
        ray.get(limiter.release_all.remote(holder))  # permits a killed attempt held

        def acquire(quota: str) -> None:
            ray.get(limiter.acquire.remote(quota, holder))

        def release(quota: str) -> None:
            ray.get(limiter.release.remote(quota, holder))

    return dub_task(
        spec,
        input,
        language,
        output,
        workdir,
        source_language=source_language,
        text=text,
        limits=limits,
        acquire=acquire,
        release=release,
    )


def _reason(error: BaseException) -> tuple[str, bool]:
    """One line saying why an attempt failed, and whether another attempt may help."""
    import ray.exceptions

    cause: BaseException = error
    if isinstance(error, ray.exceptions.RayTaskError):
        cause = getattr(error, "cause", None) or error
    if isinstance(cause, ray.exceptions.RayError) and not isinstance(cause, LipdubError):
        first = (str(cause).strip().splitlines() or [""])[0]
        return f"{type(cause).__name__}: {first}"[:500], True
    text = " ".join(str(cause).split())
    return f"{type(cause).__name__}: {text}"[:500], not isinstance(cause, _FINAL)


def dub_many(
    inputs: Iterable[BatchItem | str | os.PathLike[str] | Mapping[str, Any]],
    targets: str | Sequence[str],
    *,
    pipeline: PipelineSpec | Mapping[str, Any] | None = None,
    workdir_root: str | os.PathLike[str],
    output_dir: str | os.PathLike[str] | None = None,
    address: str | None = None,
    num_cpus: int | None = None,
    gpus_per_task: float | None = None,
    max_retries: int = 2,
    api_concurrency: Mapping[str, int] | None = None,
    on_event: BatchEventCallback | None = None,
    cancel: CancelSignal | None = None,
    ray_logging_level: int = logging.WARNING,
) -> BatchReport:
    """Dub every input into every target language on a Ray cluster (local by default).

    Args:
        inputs: Videos: paths, :class:`BatchItem` objects, or mappings with the
            manifest's fields (see :func:`~lipdub.distributed.load_manifest`).
        targets: Target languages (``"es,fr"`` or ``["es", "fr"]``).
        pipeline: The components as names and options (a :class:`PipelineSpec`, or
            ``{"voice": "google", ...}``); None: the pipeline's defaults.
        workdir_root: Folder of the per-video work directories; on a cluster, storage
            that every node mounts at the same path. Re-running a batch with the same
            root skips what is done.
        output_dir: Where outputs go (None: beside each input, or the item's output).
        address: Ray cluster (``"auto"``, ``"ray://host:10001"``); None starts a local
            Ray (with ``num_cpus`` CPUs), or uses the one this process already started.
        num_cpus: CPUs of the local Ray (None: all); ignored with ``address``.
        gpus_per_task: GPUs each task asks for (None: 1 when the cluster has GPUs,
            else 0). Fractions share a GPU between tasks.
        max_retries: Further attempts of a failed task (a dead worker, a cloud error);
            errors no retry can fix (bad input, unknown backend, no face) are not retried.
        api_concurrency: Quota name -> how many tasks may be inside a stage calling it
            at once, across the cluster. The transcribe, translate and speak stages of a
            backend count under ``"<slot>.<name>"`` (``"voice.google"``) if listed, else
            under its name (``"google"``). None: :data:`DEFAULT_API_CONCURRENCY`.
        on_event: Called in this process with a :class:`BatchEvent` as tasks start,
            fail and finish.
        cancel: Set it to stop the batch: running tasks are cancelled and
            :class:`~lipdub.errors.Cancelled` is raised; a re-run resumes.
        ray_logging_level: The level of Ray's own log lines in this process when
            this call starts Ray (``logging.ERROR`` hides its start-up warnings, such
            as the token-authentication notice; the CLI does so unless ``--verbose``).

    Returns:
        The :class:`BatchReport` (failed tasks are in it; nothing is raised for them).

    Raises:
        InputError: an argument of the wrong type (named), no inputs, an input that
            is missing or not a file (all of them listed, before Ray starts), bad
            languages, or an output pattern without ``{lang}``.
        Cancelled: ``cancel`` was set.
        BackendNotInstalled: Ray is not installed (``pip install "lipdub[ray]"``).
    """
    from lipdub._deps import require_modules
    from lipdub.distributed.checks import check_batch_args, check_inputs_exist

    t_start = time.perf_counter()
    items = check_batch_args(
        inputs=inputs,
        targets=targets,
        pipeline=pipeline,
        workdir_root=workdir_root,
        output_dir=output_dir,
        address=address,
        num_cpus=num_cpus,
        gpus_per_task=gpus_per_task,
        max_retries=max_retries,
        api_concurrency=api_concurrency,
        on_event=on_event,
        cancel=cancel,
        ray_logging_level=ray_logging_level,
    )
    from lipdub.dub.pipeline import parse_targets

    langs = parse_targets(targets)
    spec = pipeline if isinstance(pipeline, PipelineSpec) else PipelineSpec(dict(pipeline or {}))
    limits = dict(DEFAULT_API_CONCURRENCY if api_concurrency is None else api_concurrency)
    root = Path(workdir_root).resolve()
    out_dir = Path(output_dir).resolve() if output_dir is not None else None
    outputs = {
        (i, lang): _output_for(item, lang, len(langs), out_dir)
        for i, item in enumerate(items)
        for lang in langs
    }
    check_inputs_exist(items)  # every input, before Ray's start (seconds) is paid for

    require_modules("ray", "batch dubbing on Ray", "ray", extra="ray")
    import ray

    started_ray = False
    if not ray.is_initialized():
        ray.init(
            address=address,
            num_cpus=num_cpus if address is None else None,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=ray_logging_level,
        )
        started_ray = True
    try:
        resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
        if gpus_per_task is None:
            gpus_per_task = 1.0 if resources.get("GPU", 0) >= 1 else 0.0
        workers = int(resources.get("CPU", 0))
        limiter: Any = None
        if any(quota_name(spec, stage, limits) for stage in QUOTA_STAGES):
            limiter = ray.remote(ApiLimiter).options(max_concurrency=1000).remote(limits)
        task = ray.remote(_ray_dub).options(num_cpus=1, num_gpus=gpus_per_task, max_retries=0)
        report = _drive(
            task,
            limiter,
            spec,
            items,
            langs,
            outputs,
            root,
            limits,
            max_retries,
            on_event,
            cancel,
        )
        report.workers = workers
        report.wall_s = time.perf_counter() - t_start
        if limiter is not None:
            report.api_peak = ray.get(limiter.peak.remote())
            ray.kill(limiter)
        return report
    finally:
        if started_ray:
            ray.shutdown()


def _drive(
    task: Any,
    limiter: Any,
    spec: PipelineSpec,
    items: list[BatchItem],
    langs: list[str],
    outputs: Mapping[tuple[int, str], str | None],
    root: Path,
    limits: Mapping[str, int],
    max_retries: int,
    on_event: BatchEventCallback | None,
    cancel: CancelSignal | None,
) -> BatchReport:
    """Submit, wait, retry; the first language of a video before its others."""
    import ray

    records = {
        (i, lang): TaskRecord(str(item.input), lang)
        for i, item in enumerate(items)
        for lang in langs
    }
    total = len(records)
    done = 0
    pending: dict[Any, tuple[int, str]] = {}
    later: dict[int, list[str]] = {i: langs[1:] for i in range(len(items))}
    ran_count: dict[str, int] = {}
    ran_time: dict[str, float] = {}

    def tell(kind: str, i: int, lang: str, message: str = "") -> None:
        if on_event is not None:
            rate = {s: round(ran_count[s] / ran_time[s], 3) for s in ran_count if ran_time[s] > 0}
            on_event(BatchEvent(kind, str(items[i].input), lang, done, total, message, rate))

    def submit(i: int, lang: str) -> None:
        item, rec = items[i], records[(i, lang)]
        rec.attempts += 1
        ref = task.remote(
            spec,
            str(item.input.resolve()),
            lang,
            outputs[(i, lang)],
            str(workdir_for(item, root)),
            item.source_language,
            item.text,
            limits,
            limiter,
            f"{workdir_for(item, root).name}:{lang}",
        )
        pending[ref] = (i, lang)
        tell("started", i, lang)

    def finish(i: int, lang: str) -> None:
        nonlocal done
        done += 1
        rec = records[(i, lang)]
        tell("finished" if rec.ok else "failed", i, lang, "" if rec.ok else rec.errors[-1])
        if lang == langs[0]:
            for other in later.pop(i, []):
                submit(i, other)

    for i, item in enumerate(items):
        if item.input.is_file():
            submit(i, langs[0])
            continue
        for lang in langs:
            records[(i, lang)].errors.append(f"InputError: {item.input} is not a file")
            later.pop(i, None)
            done += 1
            tell("failed", i, lang, records[(i, lang)].errors[-1])
    try:
        while pending:
            if cancel is not None and cancel.is_set():
                raise Cancelled("the batch was cancelled; a re-run resumes where it stopped")
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
            for ref in ready:
                i, lang = pending.pop(ref)
                rec = records[(i, lang)]
                try:
                    out: dict[str, Any] = ray.get(ref)
                except Exception as e:
                    reason, retry = _reason(e)
                    rec.errors.append(reason)
                    logger.warning("%s -> %s failed: %s", items[i].input, lang, reason)
                    if retry and rec.attempts <= max_retries:
                        tell("retry", i, lang, reason)
                        submit(i, lang)
                    else:
                        finish(i, lang)
                    continue
                rec.ok = True
                rec.output = out["output"]
                rec.ran, rec.reused = out["ran"], out["reused"]
                rec.timings, rec.wall_s, rec.worker = out["timings"], out["wall_s"], out["worker"]
                for stage in rec.ran:
                    ran_count[stage] = ran_count.get(stage, 0) + 1
                    ran_time[stage] = ran_time.get(stage, 0.0) + rec.timings.get(stage, 0.0)
                finish(i, lang)
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
    return BatchReport(list(records.values()))
