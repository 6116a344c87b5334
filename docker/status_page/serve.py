"""The status page's server: one static file, read-only, behind a token when one is set.

It runs in the stack's ``status_page`` service (the pysystemtrade image's Python, standard library
only; this file is mounted read-only, not built into an image) and serves the page that each
``weekly sync`` writes (``ecosystem/status_page.py``). With a non-empty token file every request
but ``/healthz`` must carry the token (``?token=...`` or ``Authorization: Bearer ...``); the token
never reaches the log. Only GET and HEAD are answered; nothing but the page is served.
"""
from __future__ import annotations

import argparse
import hmac
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
           "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
           "X-Frame-Options": "DENY"}
WAITING = (b"<!doctype html><title>pysystemtrade: no page yet</title><p>No status page yet: the first "
           b"<code>invoke weekly.sync</code> (the scheduler runs it every minute) writes it.</p>")


def handler(page: Path, token: str):
    class Page(BaseHTTPRequestHandler):
        server_version = "status-page"
        sys_version = ""

        def _send(self, code: int, body: bytes, kind: str = "text/plain; charset=utf-8") -> None:
            self.send_response(code)
            for name, value in {**HEADERS, "Content-Type": kind, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _allowed(self) -> bool:
            if not token:
                return True
            given = parse_qs(urlsplit(self.path).query).get("token", [""])[0]
            bearer = self.headers.get("Authorization", "")
            if bearer.startswith("Bearer "):
                given = given or bearer[len("Bearer "):]
            return hmac.compare_digest(given.encode(), token.encode())

        def do_GET(self) -> None:
            where = urlsplit(self.path).path
            if where == "/healthz":
                self._send(200, b"ok\n")
                return
            if not self._allowed():
                self._send(401, b"this status page needs its token: open it as /?token=TOKEN (the token is in "
                                b"STATE_DIR/secrets/status_page_token, or STATUS_PAGE_TOKEN)\n")
                return
            if where not in ("/", "/index.html"):
                self._send(404, b"not found\n")
                return
            try:
                body, kind = page.read_bytes(), "text/html; charset=utf-8"
            except FileNotFoundError:
                body, kind = WAITING, "text/html; charset=utf-8"
            except OSError as exc:
                self._send(503, f"the status page cannot be read here ({exc.strerror}): the file written by "
                                "weekly sync must be readable by CONTAINER_UID\n".encode())
                return
            self._send(200, body, kind)

        do_HEAD = do_GET

        def _refuse(self) -> None:
            self._send(405, b"read-only: GET only\n")

        do_POST = do_PUT = do_DELETE = do_PATCH = _refuse

        def log_message(self, format: str, *args) -> None:
            # the request line would carry the token: log the path alone
            where = urlsplit(getattr(self, "path", "") or "").path  # a malformed request has none
            sys.stderr.write(f"{self.address_string()} {getattr(self, 'command', '?')} {where} "
                             f"{args[1] if len(args) > 1 else ''}\n")

    return Page


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--page", type=Path, default=Path("/page/index.html"))
    parser.add_argument("--token-file", type=Path, default=Path("/run/secrets/status_page_token"))
    args = parser.parse_args()
    try:
        token = args.token_file.read_text().strip()
    except FileNotFoundError:
        token = ""
    server = ThreadingHTTPServer(("0.0.0.0", args.port), handler(args.page, token))
    print(f"status page on port {args.port}, {'token required' if token else 'no token (loopback only)'}",
          flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
