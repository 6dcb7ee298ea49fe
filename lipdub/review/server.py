"""Serve the review page on 127.0.0.1 under a random secret path (uvicorn in this process)."""

from __future__ import annotations

import logging
import secrets
import socket
import threading
from types import TracebackType
from typing import Any

from lipdub.errors import InputError
from lipdub.review.session import ReviewSession

__all__ = ["READ_SIZE", "ReviewServer", "uvicorn_config"]

logger = logging.getLogger(__name__)

#: The most bytes read from a connection at once: a request body past the app's cap is
#: refused after at most this much more was read (asyncio's default is 256 KiB).
READ_SIZE = 64 * 1024


def uvicorn_config(app: Any) -> Any:
    """The uvicorn settings the review page runs with (h11, reads of :data:`READ_SIZE`)."""
    import uvicorn
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class SmallReads(H11Protocol):
        def connection_made(self, transport: Any) -> None:
            if hasattr(transport, "max_size"):  # asyncio's socket transports
                transport.max_size = READ_SIZE
            super().connection_made(transport)

    return uvicorn.Config(
        app, http=SmallReads, log_level="warning", timeout_graceful_shutdown=2, lifespan="off"
    )


class ReviewServer:
    """The review app on ``127.0.0.1:port`` (0: a free port), under a fresh secret path.

    The page's address is :attr:`url`, ``http://127.0.0.1:PORT/<token>/``: whoever
    has it can use the page, and nothing else can (no cookie is set).

    Use :meth:`serve_forever` from the CLI, or the context manager (a background
    thread) from a program or a test::

        with ReviewServer(session) as server:
            print(server.url)

    Args:
        session: The work directory opened for review.
        port: The port (0: any free one).
        token: The secret of the address (None: a random one).
        max_body: The largest request body read, in bytes (default 1 MB); a larger
            one is refused with 413 before it is read.
    """

    host = "127.0.0.1"

    def __init__(
        self,
        session: ReviewSession,
        *,
        port: int = 0,
        token: str | None = None,
        max_body: int | None = None,
    ) -> None:
        import uvicorn

        from lipdub.review.app import MAX_BODY, create_app

        if not isinstance(session, ReviewSession):
            raise InputError(
                f"ReviewServer(session=...) must be a ReviewSession, got {type(session).__name__}"
            )
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise InputError(f"ReviewServer(port=...) must be 0..65535, got {port!r}")
        self.session = session
        self.token = token or secrets.token_urlsafe(24)
        app = create_app(session, self.token, max_body=MAX_BODY if max_body is None else max_body)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((self.host, port))
        except OSError as e:
            self._socket.close()
            raise InputError(
                f"ReviewServer(port={port}): cannot listen on it: {e.strerror or e}",
                hint="pick another --port, or 0 for any free one",
            ) from e
        self._socket.listen(64)  # connections wait in the queue until uvicorn serves them
        self.port: int = self._socket.getsockname()[1]
        self._server = uvicorn.Server(uvicorn_config(app))
        self._thread: threading.Thread | None = None

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT`` (no token)."""
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The page's address, its secret path included (what to open)."""
        return f"{self.base}/{self.token}/"

    def serve_forever(self) -> None:
        """Serve until interrupted (Ctrl-C)."""
        self._server.run(sockets=[self._socket])

    def __enter__(self) -> ReviewServer:
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._thread.start()
        for _ in range(500):
            if self._server.started:
                break
            threading.Event().wait(0.01)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving (and a running job)."""
        job = self.session.job
        if job is not None:
            job.cancel.set()
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self._socket.close()
