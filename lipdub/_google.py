"""What the Google Cloud backends share: credentials, clients, retries, errors, redaction.

Private helpers for :mod:`lipdub.transcribe.google`, :mod:`lipdub.translate.google` and
:mod:`lipdub.voice.google`. Importing this module imports ``google.auth`` and
``google.api_core`` (the ``lipdub[google]`` extra), so only those backends import it.

* :func:`load_credentials` finds credentials the way Google's libraries do (an explicit
  service-account JSON, ``GOOGLE_APPLICATION_CREDENTIALS``, then Application Default
  Credentials) and turns every failure into a :class:`~lipdub.errors.CredentialsError`
  that says exactly how to fix it.
* :func:`call_with_retry` retries transient gRPC failures (``UNAVAILABLE``,
  ``DEADLINE_EXCEEDED``, ``RESOURCE_EXHAUSTED``, ``ABORTED``) with the bounded
  exponential backoff and jitter of a :class:`lipdub.retry.RetryPolicy` (public, and
  re-exported here); permanent failures surface at once as
  :class:`~lipdub.errors.CloudServiceError` with the service's own message.
* :func:`redact` strips tokens, API keys and private keys from any text that may reach a
  log or an error message.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from google.api_core import exceptions as gexc

from lipdub.errors import CloudServiceError, CredentialsError
from lipdub.retry import RetryPolicy

__all__ = [
    "INSTALL_HINT",
    "LOGIN_HINT",
    "ClientFactory",
    "RetryPolicy",
    "call_with_retry",
    "load_credentials",
    "map_error",
    "redact",
    "resolve_project",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

LOGIN_HINT = (
    "run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS "
    "to a service-account JSON key file"
)
INSTALL_HINT = 'pip install "lipdub[google]"'

#: The scope every Cloud API used here accepts.
CLOUD_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)

# ----------------------------------------------------------------------------- redaction

_SECRETS = [
    # OAuth access tokens and refresh tokens
    (re.compile(r"ya29\.[0-9A-Za-z_\-.]+"), "ya29.<redacted>"),
    (re.compile(r"1//[0-9A-Za-z_\-]{20,}"), "<redacted-refresh-token>"),
    # API keys
    (re.compile(r"AIza[0-9A-Za-z_\-]{35}"), "AIza<redacted>"),
    # Authorization headers and key=... query parameters
    (re.compile(r"(?i)(bearer\s+)[^\s'\",]+"), r"\1<redacted>"),
    (re.compile(r"(?i)((?:api_?key|key|access_token|token)=)[^&\s'\"]+"), r"\1<redacted>"),
    # PEM private keys (service-account JSON content)
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
        "<redacted-private-key>",
    ),
    (re.compile(r"(?i)(\"private_key(?:_id)?\"\s*:\s*\")[^\"]*"), r"\1<redacted>"),
]


def redact(text: str) -> str:
    """``text`` with OAuth tokens, API keys and private keys replaced by placeholders.

    Example:
        >>> redact("call failed: Authorization: Bearer ya29.a0AfH6SMB key=AIza" + "x" * 35)
        'call failed: Authorization: Bearer <redacted> key=<redacted>'
    """
    for pattern, repl in _SECRETS:
        text = pattern.sub(repl, text)
    return text


# ----------------------------------------------------------------------------- credentials


def load_credentials(
    credentials_path: str | os.PathLike[str] | None = None,
    *,
    backend: str = "google",
    scopes: tuple[str, ...] = CLOUD_SCOPES,
) -> tuple[Any, str | None]:
    """Find Google credentials and the project they belong to.

    Order: ``credentials_path`` (a service-account or other credentials JSON), the
    file named by ``GOOGLE_APPLICATION_CREDENTIALS``, then Application Default
    Credentials (``gcloud auth application-default login``, or the metadata server on
    Google Cloud). Nothing is sent to Google: tokens are fetched on the first request.

    Args:
        credentials_path: A credentials JSON file, or None to use the environment.
        backend: Registry name for error messages.
        scopes: OAuth scopes to request.

    Returns:
        ``(credentials, project_id)``; the project id may be None.

    Raises:
        CredentialsError: no credentials, a missing or unreadable file, or a file that
            is not a credentials JSON; the hint says how to log in.
    """
    import google.auth
    from google.auth import exceptions as auth_exc

    path: str | None = None
    origin = ""
    if credentials_path is not None:
        path, origin = os.fspath(credentials_path), "credentials_path"
    elif os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
        path, origin = (
            os.environ["GOOGLE_APPLICATION_CREDENTIALS"],
            "GOOGLE_APPLICATION_CREDENTIALS",
        )
    try:
        if path is not None:
            if not Path(path).is_file():
                raise CredentialsError(
                    f"Google credentials file not found ({origin} points to {path})",
                    path=path,
                    backend=backend,
                    hint="fix the path to your service-account JSON key, or unset it and "
                    "run `gcloud auth application-default login`",
                )
            creds, project = google.auth.load_credentials_from_file(  # type: ignore[no-untyped-call]
                path, scopes=list(scopes)
            )
        else:
            creds, project = google.auth.default(scopes=list(scopes))
    except auth_exc.DefaultCredentialsError as e:
        if path is None:
            message = (
                "no Google Cloud credentials found (Application Default Credentials are not set up)"
            )
        else:
            message = f"cannot use the Google credentials file: {redact(str(e)).splitlines()[0]}"
        raise CredentialsError(message, path=path, backend=backend, hint=LOGIN_HINT) from None
    return creds, project


def resolve_project(explicit: str | None, from_credentials: str | None) -> str | None:
    """Project id from the argument, ``GOOGLE_CLOUD_PROJECT``/``GCLOUD_PROJECT``, or credentials."""
    return (
        explicit
        or os.environ.get("GOOGLE_CLOUD_PROJECT")
        or os.environ.get("GCLOUD_PROJECT")
        or from_credentials
    )


# ----------------------------------------------------------------------------- clients


class ClientFactory:
    """Builds a GAPIC client once, lazily, from injected parts or the environment.

    Credentials are looked up at construction (cheap, no network), so a missing login
    fails before any heavy work; the client itself (channels, threads) is built on the
    first :meth:`get`.

    Args:
        client_cls: The GAPIC client class (``TextToSpeechClient``...).
        client: A ready client; used as is (tests, custom setups).
        credentials: A ``google.auth`` credentials object.
        credentials_path: A credentials JSON file.
        client_options: Passed to the client (``{"api_endpoint": "host:port"}``).
        transport: A transport instance, name (``"grpc"``, ``"rest"``) or factory.
        backend: Registry name for error messages.
    """

    def __init__(
        self,
        client_cls: Callable[..., T],
        *,
        client: Any = None,
        credentials: Any = None,
        credentials_path: str | os.PathLike[str] | None = None,
        client_options: Mapping[str, Any] | Any = None,
        transport: Any = None,
        backend: str = "google",
    ) -> None:
        self._client_cls = client_cls
        self._client = client
        self._options = (
            dict(client_options) if isinstance(client_options, Mapping) else client_options
        )
        self._transport = transport
        self._lock = threading.Lock()
        self.backend = backend
        self.credentials = credentials
        self.project_id: str | None = None
        prebuilt_transport = (
            transport is not None and not isinstance(transport, str) and not callable(transport)
        )
        has_api_key = bool(
            self._options.get("api_key")
            if isinstance(self._options, dict)
            else getattr(self._options, "api_key", None)
        )
        if client is None and credentials is None and not prebuilt_transport and not has_api_key:
            self.credentials, self.project_id = load_credentials(credentials_path, backend=backend)

    def get(self) -> Any:
        """The client (built on the first call; thread-safe)."""
        if self._client is not None:
            return self._client
        with self._lock:
            return self._build()

    def _build(self) -> Any:
        if self._client is None:
            kwargs: dict[str, Any] = {}
            if self._transport is not None:
                kwargs["transport"] = self._transport
            prebuilt = (
                self._transport is not None
                and not isinstance(self._transport, str)
                and not callable(self._transport)
            )
            if not prebuilt:
                kwargs["credentials"] = self.credentials
                if self._options is not None:
                    kwargs["client_options"] = self._options
            try:
                self._client = self._client_cls(**kwargs)
            except Exception as e:  # google.auth errors, bad options
                raise map_error(
                    e, what=f"create the {self.backend} client", backend=self.backend
                ) from e
        return self._client


# ----------------------------------------------------------------------------- retries


#: gRPC failures worth another try.
TRANSIENT: tuple[type[BaseException], ...] = (
    gexc.ServiceUnavailable,
    gexc.DeadlineExceeded,
    gexc.TooManyRequests,  # RESOURCE_EXHAUSTED / HTTP 429
    gexc.ResourceExhausted,
    gexc.Aborted,
    gexc.GatewayTimeout,
)


def _is_transient(e: BaseException) -> bool:
    if isinstance(e, TRANSIENT):
        return True
    try:  # REST transports (translate v2) raise requests' connection errors
        import requests

        return isinstance(e, (requests.ConnectionError, requests.Timeout))
    except ImportError:  # pragma: no cover - requests ships with google-auth
        return False


def _service_message(e: BaseException) -> str:
    msg = getattr(e, "message", None) or str(e) or type(e).__name__
    return redact(str(msg).strip())


def map_error(e: BaseException, *, what: str, backend: str) -> CloudServiceError:
    """The lipdub error for a Google failure (credentials, permission, bad request...).

    Args:
        e: The exception from the client library.
        what: What lipdub was doing (``"synthesize speech"``), for the message.
        backend: Registry name (``"google"``).
    """
    from google.auth import exceptions as auth_exc

    msg = _service_message(e)
    if isinstance(e, CloudServiceError):
        return e
    if isinstance(e, (auth_exc.DefaultCredentialsError, auth_exc.RefreshError, gexc.Unauthorized)):
        return CredentialsError(
            f"Google rejected the credentials while trying to {what}: {msg}",
            backend=backend,
            hint=LOGIN_HINT,
        )
    if isinstance(e, gexc.Forbidden) and "quota project" in msg.lower():
        return CredentialsError(
            f"Google needs a quota project to {what} with user credentials: {msg}",
            backend=backend,
            hint="run `gcloud auth application-default set-quota-project PROJECT_ID`, "
            "or use a service-account key",
        )
    if isinstance(e, gexc.Forbidden):  # PERMISSION_DENIED / HTTP 403
        return CloudServiceError(
            f"permission denied while trying to {what}: {msg}",
            backend=backend,
            hint="enable the API for your project (console.cloud.google.com/apis/library) "
            "and grant your account the matching role",
        )
    if isinstance(e, gexc.BadRequest):  # INVALID_ARGUMENT / HTTP 400
        return CloudServiceError(
            f"Google refused the request to {what}: {msg}",
            backend=backend,
            hint="check the language code, voice name and options",
        )
    if isinstance(e, gexc.NotFound):
        return CloudServiceError(
            f"not found while trying to {what}: {msg}",
            backend=backend,
            hint="check the project id, location, voice or glossary name",
        )
    if _is_transient(e):
        return CloudServiceError(
            f"Google Cloud is unavailable, could not {what}: {msg}",
            backend=backend,
            hint="try again later, or raise retry=RetryPolicy(max_attempts=...)",
        )
    return CloudServiceError(f"could not {what}: {msg}", backend=backend)


def call_with_retry(
    fn: Callable[[], T],
    *,
    what: str,
    backend: str = "google",
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``fn()``; retry transient Google errors, map every failure to a lipdub error.

    Args:
        fn: The request (no arguments; bind them with a lambda).
        what: What the request does, for logs and messages (never the payload).
        backend: Registry name for error messages.
        policy: Backoff settings; None uses :class:`RetryPolicy` defaults.
        sleep: Waits between attempts (injectable so tests run fast).

    Raises:
        CredentialsError: the credentials were missing, expired or rejected.
        CloudServiceError: a permanent failure, or transient ones past the last attempt.
    """
    policy = policy or RetryPolicy()
    for attempt in range(policy.max_attempts):
        try:
            return fn()
        except CloudServiceError:
            raise
        except Exception as e:
            if _is_transient(e) and attempt + 1 < policy.max_attempts:
                delay = policy.delay_s(attempt)
                logger.warning(
                    "%s: %s failed (%s), retry %d/%d in %.2f s",
                    backend,
                    what,
                    type(e).__name__,
                    attempt + 1,
                    policy.max_attempts - 1,
                    delay,
                )
                sleep(delay)
                continue
            raise map_error(e, what=what, backend=backend) from e
    raise AssertionError("unreachable")  # pragma: no cover
