"""A tiny static web server for the browser tests: the customer's website, on its own origin.

It serves the test pages the test registers and, under /analytics-next/bundles/, the files of the
installed @segment/analytics-next package's browser build (dist/umd) straight from node_modules, the way a
site hosts its own copy of the library. Because it listens on another port than the live server, the
page and our API are different origins, so the browser really applies CORS to every call it makes to us.
"""

from __future__ import annotations

import mimetypes
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

BUNDLES_PREFIX = "/analytics-next/bundles/"


class StaticSite:
    """Serves `pages` (path → HTML) and the analytics-next browser bundles from `bundle_dir`."""

    def __init__(self, bundle_dir: Path) -> None:
        self.bundle_dir = bundle_dir.resolve()
        self.pages: dict[str, str] = {}
        self.requested: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.requested.append(self.path)
                path = self.path.split("?", 1)[0]
                if path in site.pages:
                    self._send(site.pages[path].encode(), "text/html; charset=utf-8")
                    return
                if path.startswith(BUNDLES_PREFIX):
                    name = path[len(BUNDLES_PREFIX):]
                    file = (site.bundle_dir / name).resolve()
                    if file.parent == site.bundle_dir and file.is_file():
                        content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
                        self._send(file.read_bytes(), content_type)
                        return
                self.send_error(HTTPStatus.NOT_FOUND)

            def _send(self, body: bytes, content_type: str) -> None:
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep test output clean; `requested` records what was asked for

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="static-site", daemon=True)

    def start(self) -> StaticSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
