"""A local HTTP server standing in for a notification service (what apprise's `json://`, `form://`
and `ntfy://` targets post to): it records every request, answers with scripted status codes, and
can hold requests (not answer) until released, so a test can kill the sender mid-request."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int | None = None
    """What the receiver answered (None while held, or when the sender was gone)."""

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("idempotency-key")

    @property
    def text(self) -> str:
        """The message text, whichever of the formats apprise used."""
        content_type = self.headers.get("content-type", "")
        if "json" in content_type:
            data = self.json
            return str(data.get("message", data.get("body", "")))
        if "form" in content_type:
            return self.form.get("message", "")
        return self.body.decode()


@dataclass
class Receiver:
    statuses: list[int] = field(default_factory=list)
    """Status codes for the next requests, in order; 200 once they run out."""
    requests: list[Received] = field(default_factory=list)
    port: int = 0
    _lock: threading.Condition = field(default_factory=threading.Condition)
    _release: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._release.set()

    def url(self, scheme: str = "json", path: str = "/hook") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def hold(self) -> None:
        """Requests from now on are recorded but not answered until `release()`."""
        self._release.clear()

    def release(self) -> None:
        self._release.set()

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        """Block until `count` requests have arrived (their bodies read); return them."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self.requests)} request(s) arrived, expected {count}")
                self._lock.wait(left)
            return list(self.requests)

    @property
    def accepted(self) -> list[Received]:
        """Requests answered with a 2xx: what the service took as delivered."""
        return [r for r in self.requests if r.status is not None and 200 <= r.status < 300]

    def _record(self, received: Received) -> None:
        with self._lock:
            self.requests.append(received)
            self._lock.notify_all()

    def _next_status(self) -> int:
        with self._lock:
            return self.statuses.pop(0) if self.statuses else 200


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            received = Received(
                self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
            )
            receiver._record(received)
            receiver._release.wait(60)
            status = receiver._next_status()
            with contextlib.suppress(OSError):  # the sender may have been killed meanwhile
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
                received.status = status

        do_POST = do_PUT = do_GET = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def receiver(statuses: list[int] | None = None) -> Iterator[Receiver]:
    rec = Receiver(statuses=list(statuses or []))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(rec))
    server.daemon_threads = True
    rec.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        rec.release()
        server.shutdown()
        server.server_close()
