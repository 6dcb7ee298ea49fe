"""The review page's ASGI app (Starlette): pages, JSON API, media and live progress.

The whole app lives under a secret path, the *capability URL*
``http://127.0.0.1:PORT/<token>/``: the page uses relative URLs only (media elements
and ``EventSource`` cannot send headers), there is no cookie for another local web app
to receive, and ``Referrer-Policy: no-referrer`` keeps the address from leaking in a
``Referer``. Programs may send the token in an ``X-Lipdub-Token`` header instead, with
the routes at the root (``/api/state``).

Every request also needs a ``Host`` of this machine; requests that change something
need a same-origin browser request (``Origin``, ``Referer`` or ``Sec-Fetch-Site``)
unless they carry the header. Bodies are capped (:data:`MAX_BODY`) and refused with
413 before they are read. Every request is checked against its route's schema
(:mod:`lipdub.review.schema`); every refusal is a 4xx JSON answer
``{"error": one line, "hint": ...}``, and security headers go on every answer. Paths
go through the session's one guard (:class:`~lipdub.review.access.ReviewFiles`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import mimetypes
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from lipdub.errors import InputError, printable
from lipdub.review.access import Missing, Refused
from lipdub.review.schema import (
    CANCEL,
    LANGUAGE,
    SAVE,
    RequestError,
    Schema,
    Text,
    check,
    check_query,
    parse_json,
    run_schema,
)
from lipdub.review.session import Busy, ReviewSession, StaleVersion

__all__ = ["MAX_BODY", "STATIC", "TOKEN_HEADER", "create_app"]

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
#: The largest request body read by default (1 MB); ``create_app(max_body=...)`` raises it.
MAX_BODY = 1_000_000
#: The header programs may send the token in (instead of the secret path).
TOKEN_HEADER = "x-lipdub-token"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
_SAFE_METHODS = frozenset({"GET", "HEAD"})
#: No framing (clickjacking), no content sniffing, only this origin's scripts and media,
#: no Referer anywhere (the address holds the token), nothing cached.
_SECURITY_HEADERS = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
    (
        b"content-security-policy",
        b"default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        b"frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ),
)
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,256}")
_TOKEN_HINT = "open the URL lipdub printed (http://127.0.0.1:PORT/<token>/)"
_CACHE_BUSTER: Schema = {"v": (Text(64), False)}
_LANG_QUERY: Schema = {"lang": (Text(40, pattern=LANGUAGE), False)}


class _JSON(JSONResponse):
    """JSON as ASCII (a lone surrogate a file holds is escaped, not an encoding error);
    NaN and infinities are never written."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False).encode("ascii")


def _error(message: str, status: int, hint: str | None = None) -> JSONResponse:
    """A refusal: one line of reason and a hint."""
    line = printable(message, newlines=False)
    return _JSON({"error": line, "hint": printable(hint or "", newlines=False)}, status)


class Guard:
    """ASGI middleware: local Host, the token (secret path or header), same-origin for
    changes, capped bodies, security headers on every answer, and no 500."""

    def __init__(self, app: ASGIApp, token: str, *, max_body: int = MAX_BODY) -> None:
        self.app = app
        self.token = token
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # no websockets here
            await send({"type": "websocket.close", "code": 1008})
            return
        started = False
        held: Message | None = None  # an error answer that is not JSON yet
        text = bytearray()

        async def send_with_headers(message: Message) -> None:
            nonlocal started, held
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {bytes(k).lower(): bytes(v) for k, v in headers}
                if message["status"] >= 400 and b"json" not in present.get(b"content-type", b""):
                    held = message  # e.g. Starlette's own 400/416 for a bad Range header
                    return
                started = True
                headers += [(k, v) for k, v in _SECURITY_HEADERS if k not in present]
                message = {**message, "headers": headers}
            elif held is not None:
                text.extend(message.get("body", b"")[:4096])
                if message.get("more_body", False):
                    return
                reason = bytes(text).decode("utf-8", "replace").strip() or "refused"
                answer = _error(reason.splitlines()[0][:200], held["status"])
                for key, value in held.get("headers", []):
                    if bytes(key).lower() not in (b"content-type", b"content-length"):
                        answer.raw_headers.append((bytes(key), bytes(value)))
                held = None
                await answer(scope, receive, send_with_headers)
                return
            await send(message)

        try:
            await self._handle(scope, receive, send_with_headers)
        except Exception as e:  # a last resort: the real causes are fixed where they arise
            logger.exception("review request failed")
            if not started:
                held = None
                answer = _error(f"could not handle the request ({type(e).__name__})", 422)
                await answer(scope, receive, send_with_headers)

    def _authorise(self, scope: Scope) -> tuple[str | None, bool, str | None]:
        """``(route path, by header, refusal)`` of a request."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if hostname not in _LOCAL_HOSTS:
            return None, False, "this page answers on 127.0.0.1 only"
        path: str = scope["path"]
        first, _, rest = path[1:].partition("/")
        if secrets.compare_digest(first.encode(), self.token.encode()):
            return "/" + rest, False, None
        given = headers.get(TOKEN_HEADER, "")
        if given and secrets.compare_digest(given.encode(), self.token.encode()):
            return path, True, None
        return None, False, "a valid token is required"

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        route, by_header, why = self._authorise(scope)
        if route is None:
            hint = "use 127.0.0.1 as the page's address" if "127.0.0.1" in (why or "") else None
            await _error(why or "refused", 403, hint or _TOKEN_HINT)(scope, receive, send)
            return
        if route == "/" and not by_header and not scope["path"].endswith("/"):
            # /<token> -> /<token>/ so that the page's relative URLs stay under it
            location = scope["path"].rsplit("/", 1)[-1] + "/"
            await Response(status_code=307, headers={"location": location})(scope, receive, send)
            return
        request = Request(scope)
        if (
            scope["method"] not in _SAFE_METHODS
            and not by_header
            and not _same_origin(request, request.headers.get("host", ""))
        ):
            await _error("cross-origin request refused", 403)(scope, receive, send)
            return
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or len(length) > 18):
            await _error("bad Content-Length header", 400)(scope, receive, send)
            return
        if length is not None and int(length) > self.max_body:
            await self._too_large(scope, receive, send)
            return
        inner = {**scope, "path": route, "raw_path": route.encode("utf-8", "surrogateescape")}
        if scope["method"] in _SAFE_METHODS:
            await self.app(inner, receive, send)
            return
        body = await _read_capped(receive, self.max_body)
        if body is None:
            await self._too_large(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(inner, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = _error(
            f"the request body is larger than {self.max_body} bytes",
            413,
            "send one line's edit at a time",
        )
        answer.headers["connection"] = "close"  # the rest of the body is never read
        await answer(scope, receive, send)


async def _read_capped(receive: Receive, cap: int) -> bytes | None:
    """The request body, or None as soon as it passes ``cap`` bytes (the rest unread)."""
    chunks: list[bytes] = []
    total = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            return b""
        chunk = message.get("body", b"")
        total += len(chunk)
        if total > cap:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _same_origin(request: Request, host: str) -> bool:
    """A browser's same-origin request: Sec-Fetch-Site, else Origin, else Referer."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is not None:
        return origin == f"http://{host}"
    referer = request.headers.get("referer")
    if referer is not None:
        parts = urlsplit(referer)
        return parts.scheme == "http" and parts.netloc == host
    return site is not None


Handler = Callable[[Request, dict[str, Any]], Awaitable[Response]]


def _endpoint(query: Schema) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """A route handler whose query string is checked against ``query`` and whose errors
    become 4xx JSON answers."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                params = check_query(query, request.query_params.multi_items())
                return await handler(request, params)
            except RequestError as e:
                return _error(e.message, e.status, e.hint)
            except (StaleVersion, Busy) as e:
                return _error(e.message, 409, e.hint)
            except Refused as e:
                return _error(e.message, 403, e.hint)
            except Missing as e:
                return _error(e.message, 404, e.hint)
            except InputError as e:
                return _error(e.message, 400, e.hint)

        return endpoint

    return wrap


async def _body(request: Request, schema: Schema) -> dict[str, Any]:
    """The request's JSON body checked against ``schema`` (the Guard capped its size)."""
    return check(schema, parse_json(await request.body()))


def create_app(session: ReviewSession, token: str, *, max_body: int = MAX_BODY) -> ASGIApp:
    """The ASGI app over ``session``, served under ``/<token>/``.

    Args:
        session: The work directory opened for review.
        token: The secret of the page's address (and of the ``X-Lipdub-Token`` header).
        max_body: The largest request body read, in bytes; larger ones get 413.

    Raises:
        InputError: a token too short to be secret, or a bad ``max_body``.
    """
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        raise InputError("create_app(token=...) must be at least 16 URL-safe characters")
    if isinstance(max_body, bool) or not isinstance(max_body, int) or max_body < 1024:
        raise InputError("create_app(max_body=...) must be a number of bytes, at least 1024")

    @_endpoint(_LANG_QUERY)
    async def index(request: Request, q: dict[str, Any]) -> Response:
        return FileResponse(STATIC / "index.html")

    @_endpoint(_CACHE_BUSTER)
    async def static(request: Request, q: dict[str, Any]) -> Response:
        name = request.path_params["name"]
        path = (STATIC / name).resolve()
        if path.parent != STATIC.resolve() or not path.is_file():
            raise Missing(f"no page file {printable(name, newlines=False)[:80]!r}")
        return FileResponse(path)

    @_endpoint(_LANG_QUERY)
    async def state(request: Request, q: dict[str, Any]) -> Response:
        data = await asyncio.to_thread(session.state, q.get("lang"))
        return _JSON(data)

    @_endpoint(_CACHE_BUSTER)
    async def work_file(request: Request, q: dict[str, Any]) -> Response:
        path = await asyncio.to_thread(session.files.inside, request.path_params["path"])
        return _media(path)

    @_endpoint(_CACHE_BUSTER)
    async def input_video(request: Request, q: dict[str, Any]) -> Response:
        return _media(await asyncio.to_thread(session.files.input_video))

    @_endpoint(_CACHE_BUSTER)
    async def output_video(request: Request, q: dict[str, Any]) -> Response:
        lang = request.path_params["lang"]
        return _media(await asyncio.to_thread(session.files.output_video, lang))

    @_endpoint({})
    async def save(request: Request, q: dict[str, Any]) -> Response:
        body = await _body(request, SAVE)
        if "text" not in body and "speaker" not in body:
            raise RequestError("text or speaker: one of them is needed")
        version = await asyncio.to_thread(
            session.save_line,
            body["kind"],
            body.get("lang"),
            body["index"],
            body["version"],
            text=body.get("text"),
            speaker=body.get("speaker"),
        )
        return _JSON({"version": version})

    def starter(kind: str) -> Callable[[Request], Awaitable[Response]]:
        @_endpoint({})
        async def start(request: Request, q: dict[str, Any]) -> Response:
            body = await _body(request, run_schema())
            job = await asyncio.to_thread(
                session.start,
                "speak" if kind == "speak" else "finish",
                body["lang"],
                keep=body.get("keep", ()),
                redo=body.get("redo", ()),
            )
            return _JSON(job.summary(), status_code=202)

        return start

    @_endpoint({})
    async def cancel(request: Request, q: dict[str, Any]) -> Response:
        await _body(request, CANCEL)
        job = session.job
        if job is not None:
            job.cancel.set()
        return _JSON({"cancelling": job is not None and job.state == "running"})

    @_endpoint({})
    async def events(request: Request, q: dict[str, Any]) -> Response:
        return StreamingResponse(_event_stream(session, request), media_type="text/event-stream")

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 400
        reason = {404: "no such page", 405: "method not allowed here"}.get(status, "refused")
        return _error(f"{reason}: {request.method} {request.url.path[:80]}", status)

    async def last_resort(request: Request, exc: Exception) -> Response:
        return _error(f"could not handle the request ({type(exc).__name__})", 422)

    routes = [
        Route("/", index),
        Route("/static/{name}", static),
        Route("/api/state", state),
        Route("/api/save", save, methods=["POST"]),
        Route("/api/speak", starter("speak"), methods=["POST"]),
        Route("/api/finish", starter("finish"), methods=["POST"]),
        Route("/api/cancel", cancel, methods=["POST"]),
        Route("/api/events", events),
        Route("/files/{path:path}", work_file),
        Route("/media/input", input_video),
        Route("/media/output/{lang}", output_video),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: http_error, Exception: last_resort},
    )
    return Guard(app, token, max_body=max_body)


def _media(path: Path) -> Response:
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=kind)


async def _event_stream(session: ReviewSession, request: Request) -> AsyncIterator[str]:
    """Server-sent events of the current job, then one ``end`` event with its summary."""
    job = session.job
    if job is None:
        yield "event: end\ndata: null\n\n"
        return
    sent = 0
    while True:
        for row in job.since(sent):
            sent += 1
            yield f"id: {row['id']}\ndata: {json.dumps(row, default=str)}\n\n"
        if job.state != "running" and not job.since(sent):
            yield f"event: end\ndata: {json.dumps(job.summary())}\n\n"
            return
        if await request.is_disconnected():
            return
        await asyncio.sleep(0.15)
