"""A local stand-in for the vendors' own browser scripts (Google's gtag.js, Customer.io's in-app script),
for the direct-mode browser tests. The page never reaches the internet: the plugins are pointed here
(settings.DIRECT_MODE_SCRIPT_URLS).

Each stand-in script reports every call it receives to this server (`POST /record/<vendor>`, one JSON
array per call, numbered so the order is kept); `calls(vendor)` is what the vendor got. `scripts` records
the script requests (with their query string: gtag.js is asked for with ?id=<measurement id>).
"""

from __future__ import annotations

import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_REPORT = """
  var seq = 0;
  function report(vendor, call) {
    var body = JSON.stringify({seq: seq++, call: call}, function (k, v) {
      return (this[k] instanceof Date) ? "<date>" : v;
    });
    fetch(%(base)s + "/record/" + vendor, {method: "POST", body: body, keepalive: true});
  }
"""

GTAG = """(function () {
%(report)s
  // gtag.js reads the calls queued in dataLayer (one `arguments` object each), then every later push.
  var dataLayer = window.dataLayer = window.dataLayer || [];
  dataLayer.forEach(function (args) { report("gtag", Array.prototype.slice.call(args)); });
  var push = dataLayer.push;
  dataLayer.push = function () {
    for (var i = 0; i < arguments.length; i++) report("gtag", Array.prototype.slice.call(arguments[i]));
    return push.apply(dataLayer, arguments);
  };
})();
"""

GIST = """(function () {
%(report)s
  window.Gist = {
    setup: function (options) { report("gist", ["setup", options]); },
    setUserToken: function (token) { report("gist", ["setUserToken", token]); },
    setCurrentRoute: function (route) { report("gist", ["setCurrentRoute", route]); },
    clearUserToken: function () { report("gist", ["clearUserToken"]); }
  };
})();
"""


class VendorStandIn:
    def __init__(self) -> None:
        self.received: dict[str, list[dict[str, Any]]] = {}
        self.scripts: list[str] = []
        self._lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                template = {"/gtag/js": GTAG, "/gist.min.js": GIST}.get(path)
                if template is None:
                    self.send_error(HTTPStatus.NOT_FOUND)
                    return
                standin.scripts.append(self.path)
                report = _REPORT % {"base": json.dumps(standin.url)}
                body = (template % {"report": report}).encode()
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", "application/javascript")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                vendor = self.path.removeprefix("/record/")
                length = int(self.headers.get("Content-Length", "0"))
                record = json.loads(self.rfile.read(length))
                with standin._lock:
                    standin.received.setdefault(vendor, []).append(record)
                self.send_response(HTTPStatus.NO_CONTENT)
                self.send_header("Access-Control-Allow-Origin", "*")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="vendor-standin", daemon=True)

    def calls(self, vendor: str) -> list[list[Any]]:
        """The calls `vendor`'s script received so far, in the order the page made them."""
        with self._lock:
            records = sorted(self.received.get(vendor, []), key=lambda r: r["seq"])
        return [r["call"] for r in records]

    def reset(self) -> None:
        with self._lock:
            self.received.clear()
            self.scripts.clear()

    def start(self) -> VendorStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
