"""A stand-in for Supabase Auth's JWKS endpoint: a real HTTP server on loopback whose key set the
test changes (key rotation), that counts requests and can be stopped (Supabase unreachable)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

JWKS_PATH = "/auth/v1/.well-known/jwks.json"


@dataclass
class JwksServer:
    keys: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    status: int = 200
    _server: ThreadingHTTPServer | None = None
    _stopped: bool = False

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def jwks_url(self) -> str:
        return self.url + JWKS_PATH

    def stop(self) -> None:
        if self._server is not None and not self._stopped:
            self._stopped = True
            self._server.shutdown()
            self._server.server_close()


@contextmanager
def jwks_server(keys: list[dict[str, Any]] | None = None) -> Iterator[JwksServer]:
    state = JwksServer(list(keys or []))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != JWKS_PATH:
                self.send_error(404)
                return
            state.requests += 1
            body = orjson.dumps({"keys": state.keys})
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state._server = server
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stop()
