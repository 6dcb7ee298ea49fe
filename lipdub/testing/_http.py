"""What the fake HTTP services of :mod:`lipdub.testing` share: a quiet handler that
answers JSON, and a threading server on 127.0.0.1 (a free port) served from a daemon
thread."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["JsonHandler", "LocalServer"]


class JsonHandler(BaseHTTPRequestHandler):
    """A request handler that logs nothing and answers with :meth:`send_json`."""

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def send_json(self, status: int, out: Any) -> None:
        """Answer ``status`` with ``out`` as a JSON body."""
        data = json.dumps(out).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class LocalServer:
    """``handler`` served on ``http://127.0.0.1:PORT`` (:attr:`url`) until :meth:`close`.

    Example:
        >>> class Hello(JsonHandler):
        ...     def do_GET(self) -> None:
        ...         self.send_json(200, {"hello": "world"})
        >>> server = LocalServer(Hello)
        >>> import urllib.request
        >>> urllib.request.urlopen(server.url + "/").read()
        b'{"hello": "world"}'
        >>> server.close()
    """

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop serving and free the port."""
        self._httpd.shutdown()
        self._httpd.server_close()
