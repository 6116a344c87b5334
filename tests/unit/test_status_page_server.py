"""The status page's server (docker/status_page/serve.py): the page, read-only, behind its token when set."""
from __future__ import annotations

import importlib.util
import io
import threading
import urllib.error
import urllib.request
from contextlib import contextmanager, redirect_stderr
from http.server import ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "sentinel-PAGE-token-8080"


def serve_module():
    spec = importlib.util.spec_from_file_location("serve", ROOT / "docker" / "status_page" / "serve.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextmanager
def server(page: Path, token: str):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), serve_module().handler(page, token))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


def get(url: str, method: str = "GET", headers: dict | None = None) -> tuple[int, str, dict]:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode(), dict(answer.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


def test_with_a_token_only_a_request_carrying_it_gets_the_page_and_the_log_never_holds_it(tmp_path):
    page = tmp_path / "index.html"
    page.write_text("<h1>2 problems</h1>")
    log = io.StringIO()
    with redirect_stderr(log), server(page, TOKEN) as base:
        assert get(base + "/")[0] == 401
        assert get(base + "/?token=wrong")[0] == 401
        code, body, headers = get(base + f"/?token={TOKEN}")
        assert code == 200 and "2 problems" in body
        assert "default-src 'none'" in headers["Content-Security-Policy"] and headers["Cache-Control"] == "no-store"
        assert get(base + "/", headers={"Authorization": f"Bearer {TOKEN}"})[0] == 200
        assert get(base + "/healthz")[0] == 200, "the healthcheck needs no token"
        assert get(base + f"/etc/passwd?token={TOKEN}")[0] == 404, "nothing but the page"
        assert get(base + f"/?token={TOKEN}", method="POST")[0] == 405, "read-only"
    assert TOKEN not in log.getvalue() and "GET /" in log.getvalue()


def test_without_a_token_the_page_is_served_and_before_the_first_sync_it_says_so(tmp_path):
    with redirect_stderr(io.StringIO()), server(tmp_path / "index.html", "") as base:
        code, body, _ = get(base + "/")
        assert code == 200 and "No status page yet" in body


def test_a_page_it_cannot_read_is_a_503_that_says_why_and_a_malformed_request_is_a_400(tmp_path):
    import os
    import socket

    page = tmp_path / "index.html"
    page.write_text("x")
    page.chmod(0)
    with redirect_stderr(io.StringIO()), server(page, "") as base:
        if os.geteuid() != 0:  # root reads it anyway
            code, body, _ = get(base + "/")
            assert code == 503 and "readable by CONTAINER_UID" in body
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as raw:
            raw.sendall(b"NONSENSE\r\n\r\n")
            assert b"400" in raw.recv(300), "an answer (400), not a dropped connection"
