"""An HTTP proxy on loopback between the agent and the API that fails on purpose.

Each request matching a planned route takes the next planned fault (then requests pass):
  PASS           forward the request, relay the answer
  DROP           close the connection before forwarding anything
  Busy(s)        answer 503 with `Retry-After: s` without forwarding
  HANG           forward nothing and never answer (the agent's timeout must fire)
  LOST_RESPONSE  forward (the API commits), then close the connection instead of answering
  HOLD_RESPONSE  forward (the API commits), then hold the answer until released; `held` is set,
                 so a test can kill the agent in exactly that window
"""

from __future__ import annotations

import http.client
import socket
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

PASS, DROP, HANG, LOST_RESPONSE, HOLD_RESPONSE = "pass", "drop", "hang", "lost_response", "hold_response"
# Set again by this hop (http.server adds Date and Server itself).
_NOT_RELAYED = {"connection", "keep-alive", "transfer-encoding", "host", "content-length", "date", "server"}


@dataclass(frozen=True)
class Busy:
    retry_after: int


Fault = str | Busy


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.plans: dict[str, deque[Fault]] = {}
        self.log: list[tuple[str, str]] = []  # (route, fault) of every request
        self.held = threading.Event()
        self.release = threading.Event()
        self._closing = threading.Event()
        self._lock = threading.Lock()

    def plan(self, route: str, *faults: Fault) -> None:
        """`route` is "METHOD /path" (query ignored); the faults apply to its next requests."""
        with self._lock:
            self.plans.setdefault(route, deque()).extend(faults)

    def faults_seen(self, route: str) -> list[str]:
        with self._lock:
            return [str(f) for r, f in self.log if r == route and f != PASS]

    def _next(self, route: str) -> Fault:
        with self._lock:
            queue = self.plans.get(route)
            fault = queue.popleft() if queue else PASS
            self.log.append((route, str(fault)))
            return fault

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def _forward(
        self, method: str, path: str, headers: Any, body: bytes
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            forwarded = {k: v for k, v in headers.items() if k.lower() not in _NOT_RELAYED}
            conn.request(method, path, body=body or None, headers=forwarded)
            response = conn.getresponse()
            content = response.read()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _NOT_RELAYED]
            return response.status, response.reason, kept, content
        finally:
            conn.close()

    @contextmanager
    def running(self) -> Iterator[FaultProxy]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _cut(self) -> None:
                self.close_connection = True
                with suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                route = f"{self.command} {self.path.split('?')[0]}"
                fault = proxy._next(route)
                if fault == DROP:
                    return self._cut()
                if isinstance(fault, Busy):
                    return self._answer(
                        503, "Service Unavailable", [("Retry-After", str(fault.retry_after))], b"{}"
                    )
                if fault == HANG:
                    proxy._closing.wait(120)
                    return self._cut()
                status, reason, headers, content = proxy._forward(self.command, self.path, self.headers, body)
                if fault == LOST_RESPONSE:
                    return self._cut()
                if fault == HOLD_RESPONSE:
                    proxy.held.set()
                    proxy.release.wait(120)
                    return self._cut()
                self._answer(status, reason, headers, content)

            def _answer(
                self, status: int, reason: str, headers: list[tuple[str, str]], content: bytes
            ) -> None:
                self.send_response(status, reason)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = _handle

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        try:
            yield self
        finally:
            self._closing.set()
            self.release.set()
            self._httpd.shutdown()
            self._httpd.server_close()
