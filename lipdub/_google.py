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
import warnings
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from google.api_core import exceptions as gexc

from lipdub._io import file_kind
from lipdub.errors import CloudServiceError, CredentialsError
from lipdub.retry import RetryPolicy
from lipdub.text import guess_encoding

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
    if path is not None:
        return _credentials_from_file(path, origin, backend, scopes)
    try:
        creds, project = google.auth.default(scopes=list(scopes))
    except auth_exc.DefaultCredentialsError:
        raise CredentialsError(
            "no Google Cloud credentials found (Application Default Credentials are not set up)",
            backend=backend,
            hint=LOGIN_HINT,
        ) from None
    return creds, project


#: Largest credentials file read (a service-account key is about 2.3 kB).
_MAX_CREDENTIALS_BYTES = 1 << 20

#: Credential types google-auth loads from a file, and what each needs.
_REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "service_account": ("client_email", "private_key", "token_uri"),
    "authorized_user": ("client_id", "client_secret", "refresh_token"),
    "external_account": ("audience", "subject_token_type", "token_url"),
    "external_account_authorized_user": ("audience", "refresh_token", "token_url"),
    "impersonated_service_account": (
        "service_account_impersonation_url",
        "source_credentials",
    ),
    "gdch_service_account": ("project", "private_key_id", "private_key", "name"),
}


def _text_encoding_problem(data: bytes) -> str | None:
    """Why ``data`` is not UTF-8 JSON text, naming the encoding it seems to be in."""
    guess = guess_encoding(data)
    if guess is not None:
        name, order = guess
        if order is None:
            return f"it is saved as {name} (it is full of NUL bytes), not UTF-8"
        usual = ", as PowerShell 5 saves by default" if guess == ("UTF-16", "little-endian") else ""
        return f"it is saved as {name} ({order}{usual}), not UTF-8"
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        return f"it is not UTF-8 text (undecodable byte at offset {e.start})"
    return None


def _credentials_from_file(
    path: str, origin: str, backend: str, scopes: tuple[str, ...]
) -> tuple[Any, str | None]:
    """Load a credentials JSON; errors name the file and the reason, never its content.

    The file holds a private key or a refresh token, so no part of it (not even
    redacted) goes into a message: reasons are fixed texts, JSON syntax errors give a
    line and column only, and google-auth's own messages (which may quote the file)
    are replaced by the exception's type.
    """
    import json

    import google.auth
    from google.auth import credentials as gcreds

    def fail(reason: str, hint: str = LOGIN_HINT) -> CredentialsError:
        return CredentialsError(
            f"cannot use the Google credentials file ({origin}): {reason}",
            path=path,
            backend=backend,
            hint=hint,
        )

    kind = file_kind(path)
    if kind == "missing":
        raise CredentialsError(
            f"Google credentials file not found ({origin} points to {path})",
            path=path,
            backend=backend,
            hint="fix the path to your service-account JSON key, or unset it and "
            "run `gcloud auth application-default login`",
        )
    if kind is not None:
        raise fail(f"it is {kind}, not a JSON key file")
    try:
        with open(path, "rb") as fh:
            data = fh.read(_MAX_CREDENTIALS_BYTES + 1)
    except OSError as e:
        raise fail(f"it cannot be read ({e.strerror or type(e).__name__})") from None
    if len(data) > _MAX_CREDENTIALS_BYTES:
        raise fail("it is over 1 MiB, far larger than a credentials JSON")
    problem = _text_encoding_problem(data)
    if problem is not None:
        raise fail(
            problem,
            hint="save the key file again as UTF-8 (PowerShell: "
            "`Set-Content -Encoding utf8`), or download it again",
        )
    try:
        info = json.loads(data.decode("utf-8-sig"))
    except json.JSONDecodeError as e:
        raise fail(f"it is not valid JSON (line {e.lineno}, column {e.colno})") from None
    except RecursionError:
        raise fail("it is not a credentials JSON (nested too deeply)") from None
    if not isinstance(info, dict):
        raise fail("it is not a credentials JSON (the top level is not an object)")
    ctype = info.get("type")
    if not isinstance(ctype, str) or ctype not in _REQUIRED_FIELDS:
        shown = (
            repr(ctype)
            if ctype is None
            or (isinstance(ctype, str) and len(ctype) < 40 and ctype.isidentifier())
            else "unrecognised"
        )
        raise fail(
            f'its "type" is {shown}; expected one of {", ".join(sorted(_REQUIRED_FIELDS))}',
            hint="download a service-account JSON key from the Cloud console "
            "(IAM > Service accounts > Keys), or " + LOGIN_HINT,
        )
    missing = [k for k in _REQUIRED_FIELDS[ctype] if not info.get(k)]
    if missing:
        raise fail(f"the {ctype} credentials lack the field(s) {', '.join(missing)}")
    # External accounts look their project up over the network when scopes are given
    # at load time; load without scopes (no network) and scope afterwards.
    deferred = ctype == "external_account"
    try:
        with warnings.catch_warnings():  # "validate external credentials": done above
            warnings.simplefilter("ignore", DeprecationWarning)
            creds, project = google.auth.load_credentials_from_dict(  # type: ignore[no-untyped-call]
                info, scopes=None if deferred else list(scopes)
            )
        if deferred:
            creds = gcreds.with_scopes_if_required(creds, list(scopes))  # type: ignore[no-untyped-call]
    except Exception as e:  # google-auth raises many types; its text may quote the key
        raise fail(
            f"google-auth cannot load these {ctype} credentials ({type(e).__name__}); "
            "the file may be damaged or edited"
        ) from None
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
