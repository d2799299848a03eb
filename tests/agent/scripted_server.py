"""A local HTTP server that answers from a script, for the uploader's retry tests.

Each request takes the next step of the script: an answer (status, JSON, headers), `DROP`
(close the connection without answering) or `Hang(seconds)` (answer only after the client's
timeout). Requests are recorded with their decompressed bodies.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


@dataclass
class Answer:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Hang:
    seconds: float
    then: Answer = field(default_factory=Answer)


DROP = "drop"


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class ScriptedServer:
    def __init__(self, script: list[Answer | Hang | str], default: Answer | None = None) -> None:
        self.script = list(script)
        self.default = default or Answer(404, {"error": {"code": "not_found", "message": "no script"}})
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()

    def next_step(self) -> Answer | Hang | str:
        with self._lock:
            return self.script.pop(0) if self.script else self.default

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @contextmanager
    def running(self) -> Iterator[ScriptedServer]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                with server._lock:
                    server.requests.append(Recorded(self.command, self.path, dict(self.headers), body))
                step = server.next_step()
                if step == DROP:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if isinstance(step, Hang):
                    time.sleep(step.seconds)
                    step = step.then
                assert isinstance(step, Answer)
                payload = orjson.dumps(step.body)
                self.send_response(step.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in step.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _handle

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._httpd.shutdown()
            self._httpd.server_close()
