"""Downloads: every model lipdub fetches goes through :func:`fetch`.

1. the Hugging Face cache is looked up first (no network);
2. :func:`~lipdub.hub.offline.is_offline` decides whether the network may be used at
   all, and before the first download of a process
   :func:`~lipdub.hub.offline.hub_unreachable_reason` asks the Hub once, with a short
   timeout, whether it answers (both in :mod:`lipdub.hub.offline`);
3. the download runs with huggingface_hub's chatter kept out of the way unless lipdub
   logs at INFO (``--verbose``), and with progress sent as :mod:`lipdub.events` (stage
   ``"download"``, bytes).

A model that is not there fails with :class:`~lipdub.errors.ModelNotFoundError` in one
sentence: which model, its size, why, and what to run (``lipdub weights download NAME``)
or pass (a local copy).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from lipdub._hashing import file_sha256
from lipdub.errors import InputError, ModelNotFoundError
from lipdub.events import EventCallback, Progress, StageFinished, StageStarted, emit
from lipdub.hub.catalogue import WeightsSpec, lookup
from lipdub.hub.checkpoint import describe_non_file
from lipdub.hub.offline import (
    endpoint_url,
    hub_unreachable_reason,
    offline_forced,
    offline_reason,
    quiet_hub,
)
from lipdub.hub.verify import verify_file

__all__ = [
    "cached_path",
    "download_weights",
    "fetch",
    "missing_model_error",
    "resolve_weights",
]

logger = logging.getLogger("lipdub.hub")

_state_lock = threading.Lock()
_licence_logged: set[str] = set()


# --------------------------------------------------------------------------- messages


def _local_copy_hint(spec: WeightsSpec) -> str:
    kind = "DIR" if spec.is_folder or spec.slot == "voice" else "FILE"
    if spec.slot == "lipsyncer":
        return f"or pass a local path: --checkpoint {kind} (Python: name_or_path={kind})"
    if spec.slot and spec.local_option == "models":
        pair = spec.name.removeprefix("opus-") if spec.name.startswith("opus-") else "SRC-TGT"
        return (
            f'or pass a local path: --opt {spec.slot}.models=\'{{"{pair}": "DIR"}}\' '
            f"(Python: models={{'{pair}': DIR}})"
        )
    if spec.slot and spec.local_option:
        return (
            f"or pass a local path: --opt {spec.slot}.{spec.local_option}={kind} "
            f"(Python: {spec.local_option}={kind})"
        )
    return f"or download {spec.repo_id}/{spec.filename} yourself and pass its local path"


def missing_model_error(
    spec: WeightsSpec,
    why: str,
    *,
    label: str | None = None,
    cause_name: str = "",
    registered: bool = True,
    cache_dir: str | None = None,
    hint: str | None = None,
) -> ModelNotFoundError:
    """The one-sentence error for a model that is not here: what, how big, why, what to do.

    Args:
        spec: The model.
        why: Why it could not be had (``"downloads are off (--offline, HF_HUB_OFFLINE)"``).
        label: How to name it (default: ``"<name> weights"``).
        cause_name: The underlying exception type, for the message.
        registered: Whether ``lipdub weights download <name>`` knows the name.
        cache_dir: A cache folder other than the default, to name in the message.
        hint: The next step, instead of the download command and the local-copy option.

    Example:
        >>> from lipdub.hub import lookup
        >>> e = missing_model_error(lookup("whisper-tiny"), "downloads are off")
        >>> "lipdub weights download whisper-tiny" in str(e), "78 MB" in str(e)
        (True, True)
    """
    what = label or f"model {spec.name}"
    rev = f"@{spec.revision[:10]}" if spec.revision else ""
    where = f"{spec.repo_id}{rev}" + ("" if spec.is_folder else f" file {spec.filename}")
    cause = f" ({cause_name})" if cause_name else ""
    cache = f" {cache_dir}" if cache_dir else ""
    message = f"{what} ({where}, {spec.size_text()}) is not in the cache{cache}; {why}{cause}"
    if registered:
        command = f"run `lipdub weights download {spec.name}` while online"
    elif spec.is_folder:
        command = f"download the Hub repo {spec.repo_id} while online"
    else:
        command = f"download {spec.repo_id}/{spec.filename} while online"
    err = ModelNotFoundError(
        message,
        backend=spec.slot or spec.name,
        hint=hint or f"{command}, {_local_copy_hint(spec)}",
    )
    err.weights_name = spec.name  # type: ignore[attr-defined]
    return err


# --------------------------------------------------------------------------- fetching


def _event_tqdm(on_event: EventCallback | None, stage: str) -> Any:
    """A tqdm class for huggingface_hub that draws nothing and emits lipdub events."""
    from tqdm.auto import tqdm as base

    class EventTqdm(base):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self._lipdub_unit = str(kwargs.get("unit") or "B")
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            self._lipdub_done = float(kwargs.get("initial") or 0)

        def update(self, n: float | None = 1) -> bool | None:
            self._lipdub_done += float(n or 0)
            emit(on_event, Progress(stage, self._lipdub_done, self.total, self._lipdub_unit))
            return None

    return EventTqdm


def _cached(spec: WeightsSpec, rev: str | None, cache: str | None) -> Path | None:
    from huggingface_hub import hf_hub_download, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        with quiet_hub():
            if spec.is_folder:
                return Path(
                    snapshot_download(
                        spec.repo_id,
                        revision=rev,
                        cache_dir=cache,
                        local_files_only=True,
                        allow_patterns=list(spec.allow_patterns),
                    )
                )
            paths = [
                Path(
                    hf_hub_download(
                        spec.repo_id, f, revision=rev, cache_dir=cache, local_files_only=True
                    )
                )
                for f in (*spec.extra_files, spec.filename)
            ]
    except LocalEntryNotFoundError:
        return None
    except Exception as e:  # a malformed cache entry or bad arguments
        raise ModelNotFoundError(
            f"cannot look up {spec.name} ({spec.repo_id}) in the Hugging Face cache: {e}",
            backend=spec.slot or spec.name,
            hint=f"delete its folder from the cache and run `lipdub weights download {spec.name}`",
        ) from e
    return paths[-1]


def cached_path(
    spec: WeightsSpec,
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Path | None:
    """Where ``spec`` is in the Hugging Face cache (its file or folder), or None. No network."""
    rev = revision if revision is not None else spec.revision
    cache = os.fspath(cache_dir) if cache_dir is not None else None
    try:
        return _cached(spec, rev, cache)
    except ModelNotFoundError:
        return None


def _log_licence_once(spec: WeightsSpec) -> None:
    if not spec.licence:
        return
    with _state_lock:
        if spec.licence in _licence_logged:
            return
        _licence_logged.add(spec.licence)
    logger.warning("licence of the %s weights: %s", spec.name, spec.licence)


def fetch(
    spec: WeightsSpec,
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
    endpoint: str | None = None,
    on_event: EventCallback | None = None,
    label: str | None = None,
    registered: bool = True,
    hint: str | None = None,
) -> Path:
    """The local file (or folder, for folder specs) of ``spec``, downloading it if needed.

    Not verified here (see :func:`resolve_weights`).

    Args:
        spec: What to fetch.
        revision: Instead of the spec's revision.
        cache_dir: Hugging Face cache folder (default ``HF_HUB_CACHE``).
        local_files_only: Never touch the network (see :func:`is_offline`).
        token: Hugging Face token (never logged).
        endpoint: Hub server (default ``HF_ENDPOINT`` or https://huggingface.co).
        on_event: Receives ``StageStarted``/``Progress``/``StageFinished`` of stage
            ``"download"`` while downloading.
        label: How messages name the model (``"Whisper model 'small'"``).
        registered: Whether ``lipdub weights download`` knows ``spec.name``.
        hint: The next step to suggest instead of ``lipdub weights download NAME``.

    Raises:
        ModelNotFoundError: not cached, and offline, the Hub unreachable, or the
            download failed. One sentence naming the model, its size and the fix.
    """
    rev = revision if revision is not None else spec.revision
    cache = os.fspath(cache_dir) if cache_dir is not None else None
    found = _cached(spec, rev, cache)
    if found is not None:
        return found
    off = offline_reason(local_files_only)
    if off is not None:
        raise missing_model_error(
            spec,
            f"downloads are off ({off})",
            hint=hint,
            label=label,
            registered=registered,
            cache_dir=cache,
        )
    reason = hub_unreachable_reason(endpoint)
    if reason is not None:
        raise missing_model_error(
            spec,
            f"the Hugging Face Hub ({endpoint_url(endpoint)}) cannot be reached ({reason})",
            hint=hint,
            label=label,
            registered=registered,
            cache_dir=cache,
        )
    _log_licence_once(spec)
    where = f"{spec.repo_id}/{spec.filename}" + (f"@{rev}" if rev else "")
    logger.info("downloading %s from %s (%s)", spec.name, where, spec.size_text())
    from huggingface_hub import hf_hub_download, snapshot_download

    stage = "download"
    emit(
        on_event,
        StageStarted(
            stage, total=float(spec.download_size or 0) or None, unit="B", detail=spec.name
        ),
    )
    t0 = time.perf_counter()
    tqdm_class = _event_tqdm(on_event, stage) if on_event is not None else None
    try:
        with quiet_hub():
            if spec.is_folder:
                path = Path(
                    snapshot_download(
                        spec.repo_id,
                        revision=rev,
                        cache_dir=cache,
                        allow_patterns=list(spec.allow_patterns),
                        token=token,
                        endpoint=endpoint,
                        tqdm_class=tqdm_class,
                    )
                )
            else:
                for extra in spec.extra_files:
                    hf_hub_download(
                        spec.repo_id,
                        extra,
                        revision=rev,
                        cache_dir=cache,
                        token=token,
                        endpoint=endpoint,
                    )
                path = Path(
                    hf_hub_download(
                        spec.repo_id,
                        spec.filename,
                        revision=rev,
                        cache_dir=cache,
                        token=token,
                        endpoint=endpoint,
                        tqdm_class=tqdm_class,
                    )
                )
    except Exception as e:  # huggingface_hub raises many HTTP / OS error types
        text = str(e).splitlines()[0] if str(e) else ""
        raise missing_model_error(
            spec,
            f"could not download {spec.name}: {type(e).__name__}: {text}".rstrip(": "),
            hint=hint,
            label=label,
            registered=registered,
            cache_dir=cache,
        ) from e
    emit(on_event, StageFinished(stage, elapsed_s=time.perf_counter() - t0, detail=spec.name))
    return path


def _registered(spec: WeightsSpec) -> bool:
    try:
        return lookup(spec.name) == spec
    except ModelNotFoundError:
        return False


def _resolve_local(key: str, revision: str | None) -> Path:
    path = Path(key).expanduser()
    if revision is not None:
        raise InputError(
            f"revision={revision!r} was given with a local file path",
            path=path,
            hint="revision applies only to weights names like 'wav2lip_gan'; drop it",
        )
    if path.is_file():
        return path
    kind = describe_non_file(path)
    if kind is not None:
        raise ModelNotFoundError(
            f"{path} is {kind}, not a weights file",
            path=path,
            hint="pass the checkpoint file (.pth, .pt or .safetensors)",
        )
    looks_like_name = os.sep not in key and "/" not in key and not path.suffix
    if looks_like_name:
        lookup(key)  # raises with the list of known names
    raise ModelNotFoundError(
        "weights file does not exist",
        path=path,
        hint="check the path, or pass a name from `lipdub weights list`",
    )


def resolve_weights(
    name_or_path: str | os.PathLike[str] | WeightsSpec,
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
    verify: bool = True,
    endpoint: str | None = None,
    on_event: EventCallback | None = None,
    hint: str | None = None,
) -> Path:
    """Turn a weights name (or a local file) into a verified local file.

    Args:
        name_or_path: A catalogue name (see :func:`~lipdub.hub.lookup`), a
            :class:`WeightsSpec`, or the path of a local file (returned as is, after
            checking it exists).
        revision: Hub revision (commit, branch or tag) instead of the table's pin. Not
            allowed with a local path.
        cache_dir: Hugging Face cache folder (default: ``HF_HUB_CACHE``).
        local_files_only: Never touch the network; use the cache only. Also forced by
            ``HF_HUB_OFFLINE=1`` and :func:`set_offline` (see :func:`is_offline`).
        token: Hugging Face token for private or gated repos (never logged).
        verify: Check the file's size and sha256 against the spec. Only turn this off
            for files you made yourself (tests with random weights); the default
            rejects any file that is not the published one.
        endpoint: Hub server to download from (a mirror; default ``HF_ENDPOINT`` or
            https://huggingface.co).
        on_event: Receives download progress events (stage ``"download"``).
        hint: The next step a missing-model error suggests (default: the
            ``lipdub weights download NAME`` command and the local-path option).

    Returns:
        Path of the local file (inside the Hub cache for known names); a folder for
        folder models (Whisper, OPUS-MT).

    Raises:
        InputError: ``revision`` with a local path.
        ModelNotFoundError: no such file, an unknown name, or not cached while offline
            / the download failed. The message names the repo, the file and the
            ``lipdub weights download NAME`` command.
        ChecksumMismatch: the file has the wrong size or hash.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "mine.pth"
        >>> _ = p.write_bytes(b"x")
        >>> resolve_weights(p) == p
        True
    """
    if isinstance(name_or_path, WeightsSpec):
        spec = name_or_path
        registered = _registered(spec)
    else:
        key = os.fspath(name_or_path)
        if not isinstance(name_or_path, str):
            return _resolve_local(key, revision)
        try:
            spec = lookup(key)
        except ModelNotFoundError:
            return _resolve_local(key, revision)
        registered = True
    path = fetch(
        spec,
        revision=revision,
        cache_dir=cache_dir,
        local_files_only=local_files_only,
        token=token,
        endpoint=endpoint,
        on_event=on_event,
        registered=registered,
        hint=hint,
    )
    if verify and not spec.is_folder:
        verify_file(path, spec)
    return path


def download_weights(
    name: str,
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    token: str | bool | None = None,
    endpoint: str | None = None,
    on_event: EventCallback | None = None,
) -> Path:
    """Download (or find in the cache) and verify the model called ``name``.

    What ``lipdub weights download NAME`` runs. Any catalogue name works:
    ``wav2lip_gan``, ``s3fd``, ``whisper-small``, ``opus-en-es``,
    ``piper-es_ES-davefx-medium``.

    Returns:
        Path of the verified file (or folder) in the Hugging Face cache.

    Raises:
        ModelNotFoundError: unknown name, offline, or the download failed.
        ChecksumMismatch: the downloaded file is not the expected one.
    """
    spec = lookup(name)
    off = offline_reason()
    if off is not None:
        hint = (
            "downloading needs the network: drop --offline"
            if offline_forced()
            else ("downloading needs the network: unset HF_HUB_OFFLINE")
        )
    else:
        hint = (
            "check the network connection (HF_ENDPOINT for a mirror, HF_TOKEN for private "
            f"repos) and run it again, or fetch {spec.repo_id} elsewhere and pass the local "
            "copy instead of the name"
        )
    for other in spec.companions:  # what the model needs beside its own file
        download_weights(
            other, cache_dir=cache_dir, token=token, endpoint=endpoint, on_event=on_event
        )
    path = resolve_weights(
        spec,
        revision=revision,
        cache_dir=cache_dir,
        token=token,
        endpoint=endpoint,
        on_event=on_event,
        hint=hint,
    )
    if spec.sha256 is None and spec.sha256_prefix is None:
        main = path / spec.filename if path.is_dir() else path
        if main.is_file():
            logger.info(
                "%s: %s is %d bytes, sha256 %s (the catalogue records none yet)",
                spec.name,
                spec.filename,
                main.stat().st_size,
                file_sha256(main, remember=True),
            )
    return path
