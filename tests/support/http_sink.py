"""A real HTTP server on loopback that keeps every request it receives (a stand-in for a
monitoring service such as Healthchecks.io or Uptime Kuma, for the heartbeat's tests)."""
from __future__ import annotations

import http.server
import threading
import time


class HttpSink:
    def __init__(self, status: int = 200) -> None:
        self.requests: list[tuple[str, str, str]] = []   # (method, path with query, body)
        self.status = status
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode(errors="replace") if length else ""
                outer.requests.append((self.command, self.path, body))
                self.send_response(outer.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"OK")

            do_GET = do_POST = do_HEAD = _answer

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def paths(self) -> list[str]:
        return [path for _, path, _ in self.requests]

    def wait_for(self, count: int, timeout: float = 30) -> list[str]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.paths()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
