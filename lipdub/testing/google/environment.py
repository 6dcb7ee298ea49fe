"""No Google credentials anywhere: :func:`isolate_google_environment`, for "not logged in" tests."""

from __future__ import annotations

import os
import threading
from typing import Any

__all__ = ["isolate_google_environment"]

_not_gce_address: str | None = None
_not_gce_lock = threading.Lock()


def _not_gce_server() -> str:
    """``host:port`` of a local server that answers like "not Google Compute Engine"."""
    global _not_gce_address
    with _not_gce_lock:
        if _not_gce_address is None:
            from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

            class Handler(BaseHTTPRequestHandler):
                def log_message(self, format: str, *args: Any) -> None:  # quiet
                    pass

                def do_GET(self) -> None:
                    self.send_response(404)  # no "Metadata-Flavor: Google" header
                    self.send_header("Content-Length", "0")
                    self.end_headers()

            httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
            _not_gce_address = f"127.0.0.1:{httpd.server_address[1]}"
        return _not_gce_address


def isolate_google_environment(env: Any, tmp_dir: str | os.PathLike[str]) -> None:
    """Remove every source of Google credentials from the environment.

    For tests of the "not logged in" path: unsets ``GOOGLE_APPLICATION_CREDENTIALS`` and
    the project variables, points the gcloud config at an empty ``tmp_dir``, and points
    the metadata-server probe at a local server that answers "not on Google Cloud", so
    ``google.auth.default()`` fails at once instead of waiting for timeouts.

    Args:
        env: pytest's ``monkeypatch`` (anything with ``setenv``/``delenv``).
        tmp_dir: An empty directory.
    """
    for name in (
        "GOOGLE_APPLICATION_CREDENTIALS",
        "GOOGLE_CLOUD_PROJECT",
        "GCLOUD_PROJECT",
        "CLOUDSDK_CORE_PROJECT",
        "GOOGLE_CLOUD_QUOTA_PROJECT",
        "GOOGLE_TRANSLATE_API_KEY",
    ):
        env.delenv(name, raising=False)
    env.setenv("CLOUDSDK_CONFIG", os.fspath(tmp_dir))
    env.setenv("GCE_METADATA_IP", _not_gce_server())
