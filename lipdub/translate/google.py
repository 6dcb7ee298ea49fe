"""Google Cloud Translation backend (v3 API, with the v2 API for API-key users).

Install with ``pip install "lipdub[google]"``. Credentials come from
``credentials_path=``, ``GOOGLE_APPLICATION_CREDENTIALS`` or Application Default
Credentials (``gcloud auth application-default login``); the v3 API also needs a
project id (``project_id=``, ``GOOGLE_CLOUD_PROJECT``, or the one in the credentials).
With ``api_key=`` the v2 API is used instead and no project is needed.
"""

from __future__ import annotations

import html
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from google.cloud import translate_v3

from lipdub._google import (
    LOGIN_HINT,
    ClientFactory,
    RetryPolicy,
    call_with_retry,
    resolve_project,
)
from lipdub.errors import CloudServiceError, CredentialsError
from lipdub.translate.base import Translator

__all__ = ["GoogleTranslator"]

logger = logging.getLogger(__name__)

#: Per-request limits of ``translate_text`` (v3): strings and total codepoints.
V3_MAX_STRINGS = 1024
V2_MAX_STRINGS = 128
MAX_CODEPOINTS = 30_000


def _batches(texts: Sequence[str], max_strings: int, max_codepoints: int) -> list[list[int]]:
    """Indices of ``texts`` grouped into requests within both limits (order kept)."""
    batches: list[list[int]] = []
    current: list[int] = []
    size = 0
    for i, t in enumerate(texts):
        n = len(t)
        if current and (len(current) >= max_strings or size + n > max_codepoints):
            batches.append(current)
            current, size = [], 0
        current.append(i)
        size += n
    if current:
        batches.append(current)
    return batches


def _base(code: str) -> str:
    return code.replace("_", "-").split("-")[0].lower()


class GoogleTranslator(Translator):
    """Translates with Google Cloud Translation, one output per input text.

    Args:
        project_id: Google Cloud project for the v3 API; None reads
            ``GOOGLE_CLOUD_PROJECT`` or the credentials' project.
        location: API location (``"global"``; a glossary needs a region such as
            ``"us-central1"``).
        glossary: A glossary id or full resource name
            (``projects/P/locations/L/glossaries/G``); its translations are used.
        model: Optional model resource (``".../models/general/nmt"``) for v3, or
            ``"nmt"``/``"base"`` for v2.
        api_key: Use the v2 API with this API key instead of OAuth credentials; None
            reads ``GOOGLE_TRANSLATE_API_KEY`` when no ``client``/``credentials`` are
            given (keys on the command line end up in shell history).
        client: A ready ``TranslationServiceClient`` (v3) or ``translate_v2.Client``.
        credentials: A ``google.auth`` credentials object.
        credentials_path: A service-account JSON key file.
        client_options: Passed to the client (``{"api_endpoint": ...}``).
        transport: Passed to the v3 client (``"grpc"``, ``"rest"``, an instance or a
            factory).
        retry: Backoff for transient errors.

    Raises:
        CredentialsError: no credentials, or no project id for the v3 API; the
            message says how to fix it.

    Example:
        >>> from lipdub.testing.google import FakeGoogleCloud
        >>> with FakeGoogleCloud() as fake:
        ...     tr = GoogleTranslator(client=fake.translation_client(), project_id="demo")
        ...     tr.translate(["Hello.", "Bye."], "en", "es")
        ['[es] Hello.', '[es] Bye.']
    """

    name: ClassVar[str] = "google"

    def __init__(
        self,
        *,
        project_id: str | None = None,
        location: str = "global",
        glossary: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        client: Any = None,
        credentials: Any = None,
        credentials_path: str | os.PathLike[str] | None = None,
        client_options: Mapping[str, Any] | None = None,
        transport: Any = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.location = location
        self.model = model
        self.retry = retry or RetryPolicy()
        if api_key is None and client is None and credentials is None and transport is None:
            api_key = os.environ.get("GOOGLE_TRANSLATE_API_KEY") or None
        self._api_key = api_key
        self._v2 = api_key is not None or (client is not None and hasattr(client, "get_languages"))
        self._client_v2 = client if self._v2 else None
        self._client_options = client_options
        self.project_id: str | None = None
        self._factory: ClientFactory | None = None
        if not self._v2:
            self._factory = ClientFactory(
                translate_v3.TranslationServiceClient,
                client=client,
                credentials=credentials,
                credentials_path=credentials_path,
                client_options=client_options,
                transport=transport,
                backend=self.name,
            )
            self.project_id = resolve_project(project_id, self._factory.project_id)
            if not self.project_id:
                raise CredentialsError(
                    "Google Cloud Translation v3 needs a project id",
                    backend=self.name,
                    hint="pass project_id=, set GOOGLE_CLOUD_PROJECT, or use a service-account "
                    "key that names its project; or pass api_key= for the v2 API",
                )
        self.glossary = self._glossary_name(glossary) if glossary else None

    @property
    def client(self) -> Any:
        """The Google client this backend uses (v3 ``TranslationServiceClient`` or v2)."""
        if self._v2:
            return self._v2_client()
        assert self._factory is not None
        return self._factory.get()

    def settings(self) -> dict[str, Any]:
        """The options that change translations (JSON-ready): API version, location,
        glossary and model. The API key, credentials, project, client and retries are
        left out (a glossary is named with its project, as it is that project's)."""
        return {
            "api": "v2" if self._v2 else "v3",
            "location": None if self._v2 else self.location,
            "glossary": self.glossary,
            "model": self.model,
        }

    def _glossary_name(self, glossary: str) -> str:
        if "/" in glossary:
            return glossary
        return f"projects/{self.project_id}/locations/{self.location}/glossaries/{glossary}"

    @property
    def parent(self) -> str:
        """``projects/<project>/locations/<location>`` for v3 requests."""
        return f"projects/{self.project_id}/locations/{self.location}"

    def translate(self, texts: Sequence[str], source: str | None, target: str) -> list[str]:
        """Translate ``texts`` from ``source`` (None: detect) to ``target``.

        Blank texts are returned as they are without a request. Requests are batched
        within the API limits (1,024 strings for v3, 128 for v2, 30,000 codepoints).

        Returns:
            Exactly ``len(texts)`` strings, in order.

        Raises:
            CloudServiceError: the service refused the request (bad language code,
                permission) or stayed unavailable through the retries.
        """
        out = list(texts)
        todo = [i for i, t in enumerate(texts) if t.strip()]
        if not todo:
            return out
        if source and _base(source) == _base(target):
            logger.info(
                "google translate: %s -> %s is the same language; texts kept", source, target
            )
            return out
        wanted = [texts[i] for i in todo]
        max_strings = V2_MAX_STRINGS if self._v2 else V3_MAX_STRINGS
        for batch in _batches(wanted, max_strings, MAX_CODEPOINTS):
            chunk = [wanted[i] for i in batch]
            result = (
                self._translate_v2(chunk, source, target)
                if self._v2
                else self._translate_v3(chunk, source, target)
            )
            if len(result) != len(chunk):
                raise CloudServiceError(
                    f"Google returned {len(result)} translations for {len(chunk)} texts",
                    backend=self.name,
                )
            for i, t in zip(batch, result, strict=True):
                out[todo[i]] = t
        return out

    def _translate_v3(self, chunk: list[str], source: str | None, target: str) -> list[str]:
        assert self._factory is not None
        client = self._factory.get()
        request: dict[str, Any] = {
            "parent": self.parent,
            "contents": chunk,
            "mime_type": "text/plain",
            "target_language_code": target,
        }
        if source:
            request["source_language_code"] = source
        if self.model:
            request["model"] = self.model
        if self.glossary:
            request["glossary_config"] = translate_v3.TranslateTextGlossaryConfig(
                glossary=self.glossary
            )
        logger.debug("google translate: %d texts %s -> %s", len(chunk), source or "auto", target)
        response = call_with_retry(
            lambda: client.translate_text(
                request=request, retry=None, timeout=self.retry.timeout_s
            ),
            what=f"translate {len(chunk)} texts to {target}",
            backend=self.name,
            policy=self.retry,
        )
        items = (
            response.glossary_translations
            if self.glossary and response.glossary_translations
            else response.translations
        )
        return [t.translated_text for t in items]

    def _v2_client(self) -> Any:
        if self._client_v2 is None:
            from google.cloud import translate_v2  # type: ignore[attr-defined]

            try:
                import google.auth.api_key

                creds = google.auth.api_key.Credentials(self._api_key)  # type: ignore[no-untyped-call]
                self._client_v2 = translate_v2.Client(
                    credentials=creds, client_options=self._client_options
                )
            except Exception as e:
                raise CredentialsError(
                    f"could not set up the Translation v2 client: {type(e).__name__}",
                    backend=self.name,
                    hint=LOGIN_HINT,
                ) from None
        return self._client_v2

    def _translate_v2(self, chunk: list[str], source: str | None, target: str) -> list[str]:
        client = self._v2_client()
        kwargs: dict[str, Any] = {"target_language": target, "format_": "text"}
        if source:
            kwargs["source_language"] = source
        if self.model:
            kwargs["model"] = self.model
        result = call_with_retry(
            lambda: client.translate(chunk, **kwargs),
            what=f"translate {len(chunk)} texts to {target} (v2)",
            backend=self.name,
            policy=self.retry,
        )
        if isinstance(result, dict):
            result = [result]
        return [html.unescape(str(r["translatedText"])) for r in result]
