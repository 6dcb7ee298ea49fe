"""The one offline decision and the fast reachability probe of the Hub.

* :func:`is_offline` / :func:`offline_reason` decide whether lipdub may download at all:
  the process-wide switch :func:`set_offline` (what the CLI's ``--offline`` sets),
  ``HF_HUB_OFFLINE`` and huggingface_hub's own constant, or a call's
  ``local_files_only``.
* :func:`hub_unreachable_reason` asks the Hub once per process and endpoint, with a
  short timeout and no retries, whether it answers, so a machine without network fails
  in seconds instead of waiting through huggingface_hub's retries.
* :func:`quiet_hub` keeps huggingface_hub's chatter off the screen unless lipdub logs
  at INFO (``--verbose``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import warnings
from collections.abc import Iterator

__all__ = [
    "PROBE_TIMEOUT_S",
    "hub_unreachable_reason",
    "is_offline",
    "offline_forced",
    "offline_reason",
    "quiet_hub",
    "set_offline",
]

logger = logging.getLogger("lipdub.hub")

_TRUE = ("1", "true", "yes", "on")
_state_lock = threading.Lock()
_forced_offline = False
_saved_offline: tuple[str | None, bool | None] = (None, None)
_reachability: dict[str, str | None] = {}
_quiet_depth = 0
_quiet_saved_level = logging.NOTSET

#: Seconds the reachability probe waits for the Hub (``LIPDUB_HUB_TIMEOUT`` overrides).
PROBE_TIMEOUT_S = 5.0


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


def offline_forced() -> bool:
    """Whether :func:`set_offline` (the CLI's ``--offline``) switched downloads off."""
    return _forced_offline


def endpoint_url(endpoint: str | None) -> str:
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
    url = endpoint_url(endpoint)
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
