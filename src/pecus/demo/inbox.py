"""The demo's notification inbox: a local HTTP receiver for apprise's `json://` webhook.

The farm's notification target is `json://127.0.0.1:<port>/inbox`, added through the API like any
target; the dispatcher delivers to it as it would to a farmer's webhook. Each message received is
appended to `inbox.jsonl` and shown in the terminal. A message re-sent with the same
`Idempotency-Key` (the dispatcher's retry after a lost answer) is kept once, as the notification
docs ask of a receiver.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MAX_BODY = 64 * 1024


class Inbox:
    def __init__(self, path: Path, on_message: Callable[[dict[str, Any]], None], port: int = 0) -> None:
        self.path = path
        self.on_message = on_message
        self._lock = threading.Lock()
        self._seen: set[str] = set()
        try:
            self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        except OSError:
            if port == 0:
                raise
            self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="inbox", daemon=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        for line in path.read_text(encoding="utf-8").splitlines() if path.exists() else []:
            try:
                key = json.loads(line).get("idempotency_key")
            except ValueError:
                continue
            if key:
                self._seen.add(key)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def apprise_url(self) -> str:
        return f"json://127.0.0.1:{self.port}/inbox"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def receive(self, headers: dict[str, str], body: bytes) -> None:
        try:
            payload: Any = json.loads(body or b"{}")
        except ValueError:
            payload = {"raw": body.decode("utf-8", "replace")}
        key = headers.get("idempotency-key")
        entry = {
            "received_at": datetime.now(UTC).isoformat(),
            "idempotency_key": key,
            "title": payload.get("title") if isinstance(payload, dict) else None,
            "message": payload.get("message") if isinstance(payload, dict) else None,
            "payload": payload,
        }
        with self._lock:
            if key and key in self._seen:
                return
            if key:
                self._seen.add(key)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self.on_message(entry)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    self.send_error(413)
                    return
                body = self.rfile.read(length)
                inbox.receive({k.lower(): v for k, v in self.headers.items()}, body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the terminal shows the messages themselves

        return Handler
