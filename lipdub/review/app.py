"""The review page's ASGI app (Starlette): pages, JSON API, media and live progress.

Every request needs the session's token (``?token=`` once, then a cookie, or the
``X-Lipdub-Token`` header) and a ``Host`` of this machine; requests that change
something also need a same-origin browser request (``Origin``, ``Referer`` or
``Sec-Fetch-Site``). Only files inside the work directory are served, plus the run's
input and output videos under fixed names.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import mimetypes
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from lipdub.errors import InputError
from lipdub.review.session import Busy, ReviewSession, StaleVersion

__all__ = ["STATIC", "create_app"]

STATIC = Path(__file__).parent / "static"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
_SAFE_METHODS = frozenset({"GET", "HEAD"})
#: No framing (clickjacking), no content sniffing, only this origin's scripts and media.
_SECURITY_HEADERS = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (
        b"content-security-policy",
        b"default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        b"frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ),
)


def cookie_name(token: str) -> str:
    """The cookie that carries ``token`` (named after it, so two sessions never clash)."""
    return "lipdub_review_" + hashlib.sha256(token.encode()).hexdigest()[:10]


class Guard:
    """ASGI middleware: the token on every request, same-origin for changes, local Host."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token
        self.cookie = cookie_name(token)

    def refusal(self, request: Request) -> str | None:
        """Why the request is refused, or None."""
        host = request.headers.get("host", "")
        hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if hostname not in _LOCAL_HOSTS:
            return "this page answers on 127.0.0.1 only"
        given = (
            request.query_params.get("token")
            or request.headers.get("x-lipdub-token")
            or request.cookies.get(self.cookie)
            or ""
        )
        if not secrets.compare_digest(given.encode(), self.token.encode()):
            return "a valid token is required: open the URL lipdub printed"
        if request.method not in _SAFE_METHODS and not _same_origin(request, host):
            return "cross-origin request refused"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        why = self.refusal(request)
        if why is not None:
            await PlainTextResponse(why, status_code=403)(scope, receive, send)
            return
        extra = list(_SECURITY_HEADERS)
        if request.query_params.get("token") is not None:
            cookie = f"{self.cookie}={self.token}; Path=/; HttpOnly; SameSite=Strict"
            extra.append((b"set-cookie", cookie.encode()))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


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


def _error(e: InputError, status: int) -> JSONResponse:
    return JSONResponse({"error": e.message, "hint": e.hint or ""}, status_code=status)


def create_app(session: ReviewSession, token: str) -> ASGIApp:
    """The ASGI app over ``session``, guarded by ``token``."""

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"cache-control": "no-store"})

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        path = (STATIC / name).resolve()
        if path.parent != STATIC.resolve() or not path.is_file():
            return PlainTextResponse("not found", status_code=404)
        return FileResponse(path)

    async def state(request: Request) -> Response:
        data = await asyncio.to_thread(session.state, request.query_params.get("lang"))
        return JSONResponse(data)

    async def work_file(request: Request) -> Response:
        try:
            path = session.work_file(request.path_params["path"])
        except InputError as e:
            return _error(e, 403 if "outside" in e.message or "refused" in e.message else 404)
        return _media(path)

    async def input_video(request: Request) -> Response:
        return _media(session.input) if session.input.is_file() else _missing()

    async def output_video(request: Request) -> Response:
        out = session.existing_output(request.path_params["lang"])
        return _media(out) if out is not None else _missing()

    async def save(request: Request) -> Response:
        body = await _json(request)
        try:
            version = await asyncio.to_thread(
                session.save_line,
                str(body.get("kind")),
                body.get("lang"),
                int(body.get("index", -1)),
                str(body.get("version")),
                text=body.get("text"),
                speaker=body.get("speaker"),
            )
        except StaleVersion as e:
            return _error(e, 409)
        except Busy as e:
            return _error(e, 409)
        except InputError as e:
            return _error(e, 400)
        return JSONResponse({"version": version})

    def starter(kind: str) -> Callable[[Request], Awaitable[Response]]:
        async def start(request: Request) -> Response:
            body = await _json(request)
            try:
                job = session.start(
                    "speak" if kind == "speak" else "finish",
                    str(body.get("lang")),
                    keep=tuple(str(s) for s in body.get("keep") or ()),
                    redo=tuple(str(s) for s in body.get("redo") or ()),
                )
            except Busy as e:
                return _error(e, 409)
            except InputError as e:
                return _error(e, 400)
            return JSONResponse(job.summary(), status_code=202)

        return start

    async def cancel(request: Request) -> Response:
        job = session.job
        if job is not None:
            job.cancel.set()
        return JSONResponse({"cancelling": job is not None and job.state == "running"})

    async def events(request: Request) -> Response:
        return StreamingResponse(
            _event_stream(session, request),
            media_type="text/event-stream",
            headers={"cache-control": "no-store"},
        )

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
    return Guard(Starlette(routes=routes), token)


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _media(path: Path) -> Response:
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=kind, headers={"cache-control": "no-store"})


def _missing() -> Response:
    return PlainTextResponse("not made yet", status_code=404)


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
