"""The fake Translation services: v3 ``TranslateText`` (gRPC) and the v2 REST API."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import grpc
from google.cloud import translate_v3

from lipdub.testing._http import JsonHandler, LocalServer

if TYPE_CHECKING:
    from lipdub.testing.google.server import FakeGoogleCloud

__all__ = ["FakeTranslateV2"]


def translate(fake: FakeGoogleCloud, request: Any, context: grpc.ServicerContext) -> Any:
    if not re.fullmatch(r"projects/[^/]+(/locations/[^/]+)?", request.parent):
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid 'parent': {request.parent!r}.")
    if not request.target_language_code:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "Target language is required.")
    contents = list(request.contents)
    if len(contents) > 1024:
        context.abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            "Number of text segments exceeds the limit of 1024.",
        )
    if sum(len(c) for c in contents) > 30000:
        context.abort(
            grpc.StatusCode.INVALID_ARGUMENT, "Text too long: the limit is 30000 codepoints."
        )
    target = request.target_language_code
    detected = "" if request.source_language_code else "en"

    def tr(text: str) -> str:
        return fake.dictionary.get((target, text), f"[{target}] {text}")

    translations = [
        translate_v3.Translation(translated_text=tr(c), detected_language_code=detected)
        for c in contents
    ]
    resp = translate_v3.TranslateTextResponse(translations=translations)
    if request.glossary_config.glossary:
        resp.glossary_translations = [
            translate_v3.Translation(
                translated_text=tr(c) + " (glossary)", glossary_config=request.glossary_config
            )
            for c in contents
        ]
    return resp


class FakeTranslateV2:
    """A fake of the REST Translation v2 API (``POST /language/translate/v2``) on 127.0.0.1.

    Like the real v2 API it returns HTML-escaped text (``'`` as ``&#39;``), counts the
    requests in :attr:`requests` (the decoded JSON bodies plus the ``key`` header seen),
    and answers ``[<target>] <text>``. ``fail_status`` makes the next requests fail with
    that HTTP status. Point ``translate_v2.Client`` at it with
    ``client_options={"api_endpoint": fake.url}``.
    """

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_status: list[int] = []
        self.url = ""
        self._server: LocalServer | None = None

    def __enter__(self) -> FakeTranslateV2:
        import html
        import json

        fake = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                body["_api_key"] = self.headers.get("x-goog-api-key")
                fake.requests.append(body)
                if fake.fail_status:
                    status = fake.fail_status.pop(0)
                    out = {"error": {"code": status, "message": f"fake failure {status}"}}
                else:
                    status = 200
                    target = body.get("target", "")
                    out = {
                        "data": {
                            "translations": [
                                {"translatedText": html.escape(f"[{target}] {q}")}
                                for q in body["q"]
                            ]
                        }
                    }
                self.send_json(status, out)

        self._server = LocalServer(Handler)
        self.url = self._server.url
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
