"""The CLI's api client turns every failure into one sentence (no key, forbidden, not the api)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from vosync.deploy.cli.client import ApiClient, CliError


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = {"/key": 401, "/admin": 403, "/html": 200, "/missing": 404}[self.path.split("?")[0]]
        body = b"<html></html>" if self.path == "/html" else b'{"detail": "Instance 9 not found"}'
        if self.path == "/key" and self.headers.get("X-API-Key") == "k1":
            status, body = 200, b'{"ok": true}'
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:  # quiet test output
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = HTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_missing_key_names_the_variable(server: str) -> None:
    with pytest.raises(CliError, match="set VOSYNC_API_KEY"):
        ApiClient(server, None).get("/key")
    assert ApiClient(server, "k1").get("/key") == {"ok": True}


def test_other_failures_are_sentences(server: str) -> None:
    with pytest.raises(CliError, match="admin key"):
        ApiClient(server, None).get("/admin")
    with pytest.raises(CliError, match="404: Instance 9 not found"):
        ApiClient(server, None).get("/missing")
    with pytest.raises(CliError, match="did not answer JSON"):
        ApiClient(server, None).get("/html")
    with pytest.raises(CliError, match="http:// or https://"):
        ApiClient("ftp://x", None)
