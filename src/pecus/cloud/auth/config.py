"""Authentication settings from the environment.

| variable | default | meaning |
|---|---|---|
| `PECUS_AUTH_MODE` | `local` | `local` or `supabase` |
| `SUPABASE_URL` | — | supabase mode: the project URL (`https://<ref>.supabase.co`) |
| `SUPABASE_JWT_SECRET` | — | supabase mode: the legacy HS256 secret, if the project still uses it |
| `PECUS_JWKS_CACHE_SECONDS` | 600 | how long JWKS keys are trusted before re-fetching (≤ 600) |
| `PECUS_JWKS_MIN_REFETCH_SECONDS` | 5 | least time between two JWKS fetches caused by unknown `kid`s |
| `PECUS_JWT_SECRET` | generated | local mode: HS256 signing secret (≥ 32 characters); without it one
  is generated once into `$PECUS_HOME/jwt-secret`. Set it when several API instances run. |
| `PECUS_JWT_ISSUER` | `pecus-local` | local mode: the `iss` of issued tokens |
| `PECUS_ACCESS_TOKEN_SECONDS` | 900 | local mode: access token lifetime |
| `PECUS_REFRESH_TOKEN_SECONDS` | 2592000 | local mode: refresh token lifetime (30 days) |
| `PECUS_LOGIN_MAX_FAILURES` | 5 | failed sign-ins per e-mail per window before 429 |
| `PECUS_LOGIN_MAX_FAILURES_PER_IP` | 50 | failed sign-ins per client address per window |
| `PECUS_LOGIN_WINDOW_SECONDS` | 900 | the rate-limit window |
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pecus.cloud.settings import pecus_home

AuthMode = Literal["local", "supabase"]
MAX_JWKS_CACHE_S = 600
MIN_SECRET_LENGTH = 32


class AuthConfigError(ValueError):
    pass


def _int(
    env: Mapping[str, str], name: str, default: int, minimum: int = 1, maximum: int | None = None
) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise AuthConfigError(f"{name} must be an integer, got {raw!r}") from exc
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise AuthConfigError(f"{name} must be {bound}, got {value}")
    return value


def auth_mode(env: Mapping[str, str] | None = None) -> AuthMode:
    mode = (os.environ if env is None else env).get("PECUS_AUTH_MODE", "").strip() or "local"
    if mode not in ("local", "supabase"):
        raise AuthConfigError(f"PECUS_AUTH_MODE must be 'local' or 'supabase', got {mode!r}")
    return "supabase" if mode == "supabase" else "local"


def local_secret(env: Mapping[str, str]) -> bytes:
    """PECUS_JWT_SECRET, or a secret generated once and kept (mode 0600) under PECUS_HOME."""
    secret = env.get("PECUS_JWT_SECRET", "")
    if not secret:
        path: Path = pecus_home() / "jwt-secret"
        if not path.exists():
            # Written aside, then linked into place: another process starting at the same moment
            # either wins the link (and we read its secret) or loses it; nobody reads half a file.
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".jwt-secret-")
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(48))
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                os.unlink(tmp)
        secret = path.read_text().strip()
    if len(secret) < MIN_SECRET_LENGTH:
        raise AuthConfigError(f"PECUS_JWT_SECRET must be at least {MIN_SECRET_LENGTH} characters")
    return secret.encode()


@dataclass(frozen=True)
class AuthSettings:
    mode: AuthMode
    issuer: str
    """The only `iss` accepted (and, in local mode, the one issued)."""
    hs256_secret: bytes | None
    """HS256 key: local signing secret, or Supabase's legacy secret; None accepts no HS256 token."""
    jwks_url: str | None
    supabase_url: str | None = None
    jwks_max_age_s: int = MAX_JWKS_CACHE_S
    jwks_min_refetch_s: int = 5
    access_token_s: int = 900
    refresh_token_s: int = 30 * 24 * 3600
    login_max_failures: int = 5
    login_max_failures_per_ip: int = 50
    login_window_s: int = 900

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AuthSettings:
        env = os.environ if env is None else env
        mode = auth_mode(env)
        if mode == "supabase":
            url = env.get("SUPABASE_URL", "").strip().rstrip("/")
            if not url.startswith(("https://", "http://")):
                raise AuthConfigError(
                    "PECUS_AUTH_MODE=supabase needs SUPABASE_URL (https://<ref>.supabase.co)"
                )
            legacy = env.get("SUPABASE_JWT_SECRET", "")
            issuer, secret = f"{url}/auth/v1", (legacy.encode() if legacy else None)
            jwks_url: str | None = f"{url}/auth/v1/.well-known/jwks.json"
        else:
            url, jwks_url = "", None
            issuer = env.get("PECUS_JWT_ISSUER", "").strip() or "pecus-local"
            secret = local_secret(env)
        return cls(
            mode=mode,
            issuer=issuer,
            hs256_secret=secret,
            jwks_url=jwks_url,
            supabase_url=url or None,
            jwks_max_age_s=_int(env, "PECUS_JWKS_CACHE_SECONDS", MAX_JWKS_CACHE_S, 0, MAX_JWKS_CACHE_S),
            jwks_min_refetch_s=_int(env, "PECUS_JWKS_MIN_REFETCH_SECONDS", 5, 0, MAX_JWKS_CACHE_S),
            access_token_s=_int(env, "PECUS_ACCESS_TOKEN_SECONDS", 900, 30, 24 * 3600),
            refresh_token_s=_int(env, "PECUS_REFRESH_TOKEN_SECONDS", 30 * 24 * 3600, 60),
            login_max_failures=_int(env, "PECUS_LOGIN_MAX_FAILURES", 5),
            login_max_failures_per_ip=_int(env, "PECUS_LOGIN_MAX_FAILURES_PER_IP", 50),
            login_window_s=_int(env, "PECUS_LOGIN_WINDOW_SECONDS", 900),
        )
