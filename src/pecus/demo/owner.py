"""What the farm's owner sets up on the dashboard, done through the same API calls: sign in, make
(or keep) the agent's key, point a notification target at the demo inbox."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx

from pecus.demo.provision import write_private

KEY_LABEL = "demo agent"
INBOX_LABEL = "Demo inbox"


class OwnerApi:
    def __init__(self, base_url: str, email: str, password: str) -> None:
        self.client = httpx.Client(base_url=f"{base_url}/api/v1", timeout=30.0)
        answer = self._check(self.client.post("/auth/login", json={"email": email, "password": password}))
        self.client.headers["Authorization"] = f"Bearer {answer['access_token']}"

    def close(self) -> None:
        self.client.close()

    @staticmethod
    def _check(response: httpx.Response) -> Any:
        if response.is_error:
            request = response.request
            raise RuntimeError(f"{request.method} {request.url.path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    def ensure_agent_key(self, farm_id: uuid.UUID, key_id: uuid.UUID | None, key_file: Path) -> uuid.UUID:
        """The agent key kept in `key_file` if the farm still has it unrevoked, else a new one
        written there (the secret is shown once by the API, so the file is its only copy)."""
        keys = self._check(self.client.get(f"/farms/{farm_id}/agent-keys"))
        live = {k["key_id"] for k in keys if k["revoked_at"] is None}
        if key_id is not None and str(key_id) in live and key_file.is_file():
            return key_id
        created = self._check(self.client.post(f"/farms/{farm_id}/agent-keys", json={"label": KEY_LABEL}))
        write_private(key_file, created["secret"] + "\n")
        return uuid.UUID(created["key_id"])

    def ensure_target(
        self, farm_id: uuid.UUID, target_id: int | None, url: str, known_url: str | None
    ) -> int:
        """A notification target for `url`: the one made last time if it is still there and points
        at the same address, else a new one (replacing the demo's older inbox targets)."""
        settings = self._check(self.client.get(f"/farms/{farm_id}/settings"))
        targets = settings["notification_targets"]
        if target_id is not None and known_url == url and any(t["target_id"] == target_id for t in targets):
            return target_id
        for old in (t for t in targets if t["label"] == INBOX_LABEL):
            self._check(self.client.delete(f"/farms/{farm_id}/notification-targets/{old['target_id']}"))
        created = self._check(
            self.client.post(
                f"/farms/{farm_id}/notification-targets", json={"label": INBOX_LABEL, "url": url}
            )
        )
        return int(created["target_id"])
