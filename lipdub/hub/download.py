"""Hub access: the one offline decision, a fast reachability probe, downloads, progress.

Every model lipdub fetches goes through :func:`fetch`:

1. the Hugging Face cache is looked up first (no network);
2. :func:`is_offline` decides whether the network may be used at all: the process-wide
   switch :func:`set_offline` (what the CLI's ``--offline`` sets), ``HF_HUB_OFFLINE``
   and huggingface_hub's own constant, or a call's ``local_files_only``;
3. before the first download of a process, :func:`hub_unreachable_reason` asks the Hub
   once, with a short timeout and no retries, whether it answers (remembered per
   endpoint), so a machine without network fails in seconds instead of waiting through
   huggingface_hub's retries;
4. the download runs with huggingface_hub's chatter (its retry warnings, Python
   warnings) kept out of the way unless lipdub logs at INFO (``--verbose``), and with
   progress sent as :mod:`lipdub.events` (stage ``"download"``, bytes).

A model that is not there fails with :class:`~lipdub.errors.ModelNotFoundError` in one
sentence: which model, its size, why, and what to run (``lipdub weights download NAME``)
or pass (a local copy).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lipdub.errors import InputError, ModelNotFoundError
from lipdub.events import EventCallback, Progress, StageFinished, StageStarted, emit
from lipdub.hub.catalogue import WeightsSpec, lookup
from lipdub.hub.checkpoint import describe_non_file
from lipdub.hub.verify import verify_file

__all__ = [
    "cached_path",
    "download_weights",
    "fetch",
    "hub_unreachable_reason",
    "is_offline",
    "missing_model_error",
    "offline_reason",
    "resolve_weights",
    "set_offline",
]

logger = logging.getLogger("lipdub.hub")

_TRUE = ("1", "true", "yes", "on")
_state_lock = threading.Lock()
_forced_offline = False
_saved_offline: tuple[str | None, bool | None] = (None, None)
_reachability: dict[str, str | None] = {}
_licence_logged: set[str] = set()
_quiet_depth = 0
_quiet_saved_level = logging.NOTSET

#: Seconds the reachability probe waits for the Hub (``LIPDUB_HUB_TIMEOUT`` overrides).
PROBE_TIMEOUT_S = 5.0


# --------------------------------------------------------------------------- offline


def set_offline(offline: bool = True) -> None:
    """Switch downloads off (or back on) for this process: what ``--offline`` does.

    Also sets ``HF_HUB_OFFLINE=1`` in the environment (and huggingface_hub's constant)
    so libraries that download on their own stay offline too; switching back restores
    both.

    Example:
        >>> set_offline(True); is_offline()
        True
        >>> set_offline(False)
    """
    global _forced_offline, _saved_offline
    with _state_lock:
        was = _forced_offline
        _forced_offline = offline
    from huggingface_hub import constants

    if offline and not was:
        _saved_offline = (
            os.environ.get("HF_HUB_OFFLINE"),
            getattr(constants, "HF_HUB_OFFLINE", None),
        )
        os.environ["HF_HUB_OFFLINE"] = "1"
        constants.HF_HUB_OFFLINE = True
    elif not offline and was:
        env, const = _saved_offline
        if env is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = env
        if const is not None:
            constants.HF_HUB_OFFLINE = const


def is_offline(local_files_only: bool = False) -> bool:
    """Whether the Hub must not be contacted: the one place that decides it.

    True when ``local_files_only`` is given, :func:`set_offline` was called,
    ``HF_HUB_OFFLINE`` is set to a true value, or huggingface_hub says so.
    """
    if local_files_only or _forced_offline:
        return True
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE:
        return True
    import sys

    constants = sys.modules.get("huggingface_hub.constants")
    return bool(getattr(constants, "HF_HUB_OFFLINE", False))


def offline_reason(local_files_only: bool = False) -> str | None:
    """Why downloads are off (``"--offline was given"``, ...), or None when they are on."""
    if local_files_only:
        return "local_files_only=True was given"
    if _forced_offline:
        return "--offline was given"
    value = os.environ.get("HF_HUB_OFFLINE", "")
    if value.strip().lower() in _TRUE:
        return f"HF_HUB_OFFLINE={value} is set"
    if is_offline():
        return "huggingface_hub is in offline mode"
    return None


def _endpoint(endpoint: str | None) -> str:
    if endpoint:
        return endpoint.rstrip("/")
    from huggingface_hub import constants

    return str(constants.ENDPOINT).rstrip("/")


def _probe(url: str, timeout: float) -> str | None:
    from huggingface_hub.utils._http import get_session

    try:
        get_session().head(url, timeout=timeout, follow_redirects=False)
    except Exception as e:  # connect errors, timeouts, TLS errors, proxy errors
        text = str(e).splitlines()[0] if str(e) else ""
        return f"{type(e).__name__}: {text}".rstrip(": ")
    return None


def hub_unreachable_reason(endpoint: str | None = None) -> str | None:
    """None when the Hub answers, else why not (one try, short timeout, cached).

    Any HTTP answer counts as reachable; a refused or timed-out connection, a DNS or
    TLS failure does not. The answer is remembered for the process, per endpoint.
    """
    url = _endpoint(endpoint)
    with _state_lock:
        if url in _reachability:
            return _reachability[url]
    try:
        timeout = float(os.environ.get("LIPDUB_HUB_TIMEOUT", PROBE_TIMEOUT_S))
    except ValueError:
        timeout = PROBE_TIMEOUT_S
    result: list[str | None] = []
    # A thread bounds the wait even where name resolution ignores socket timeouts.
    worker = threading.Thread(
        target=lambda: result.append(_probe(url, timeout)), name="lipdub-hub-probe", daemon=True
    )
    t0 = time.perf_counter()
    worker.start()
    worker.join(timeout + 1.0)
    reason = result[0] if result else f"no answer within {timeout:.0f} s"
    logger.debug("Hub probe %s: %s (%.2f s)", url, reason or "ok", time.perf_counter() - t0)
    with _state_lock:
        _reachability[url] = reason
    return reason


@contextlib.contextmanager
def quiet_hub() -> Iterator[None]:
    """Keep huggingface_hub's warnings (retries, deprecations) off the screen unless
    lipdub logs at INFO (the CLI's ``--verbose``)."""
    global _quiet_depth, _quiet_saved_level
    if logging.getLogger("lipdub").isEnabledFor(logging.INFO):
        yield
        return
    hf = logging.getLogger("huggingface_hub")
    with _state_lock:
        if _quiet_depth == 0:
            _quiet_saved_level = hf.level
            hf.setLevel(logging.ERROR)
        _quiet_depth += 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        with _state_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                hf.setLevel(_quiet_saved_level)


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
            f"the Hugging Face Hub ({_endpoint(endpoint)}) cannot be reached ({reason})",
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
            if _forced_offline
            else ("downloading needs the network: unset HF_HUB_OFFLINE")
        )
    else:
        hint = (
            "check the network connection (HF_ENDPOINT for a mirror, HF_TOKEN for private "
            f"repos) and run it again, or fetch {spec.repo_id} elsewhere and pass the local "
            "copy instead of the name"
        )
    return resolve_weights(
        spec,
        revision=revision,
        cache_dir=cache_dir,
        token=token,
        endpoint=endpoint,
        on_event=on_event,
        hint=hint,
    )
