"""Access-token verification.

Algorithms are fixed here, never taken from configuration or trusted from the token: RS256 and
ES256 with a key from the JWKS (matched by `kid`, and the key's type must fit the algorithm), and
HS256 only when a shared secret is configured. So a token signed HS256 with a public key as its
secret (key confusion), or `alg: none`, is refused. `iss`, `aud = authenticated`, `exp` and `sub`
are required and checked; `role` must be `authenticated`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

import httpx
import jwt

from pecus.cloud.auth.config import MAX_JWKS_CACHE_S, AuthSettings

log = logging.getLogger(__name__)

AUDIENCE = "authenticated"
ASYMMETRIC = frozenset({"RS256", "ES256"})
LEEWAY_S = 30
"""Clock skew tolerated between Supabase's servers (or another API instance) and this one."""


class InvalidToken(Exception):
    """The token is missing, malformed, expired, or not ours: 401."""


class AuthUnavailable(Exception):
    """The keys to check a token cannot be fetched (Supabase unreachable): 503."""


class JwksCache:
    """Public keys from a JWKS URL, kept at most `max_age_s` (≤ 10 minutes) and fetched again
    at once when a token names a `kid` we do not know (key rotation), but no more often than
    every `refresh_cooldown_s`, so a flood of made-up kids cannot turn into a flood of fetches."""

    def __init__(
        self,
        url: str,
        *,
        max_age_s: float = MAX_JWKS_CACHE_S,
        refresh_cooldown_s: float = 5.0,
        timeout_s: float = 5.0,
    ) -> None:
        self.url = url
        self.max_age_s = min(max_age_s, MAX_JWKS_CACHE_S)
        self.refresh_cooldown_s = refresh_cooldown_s
        self.timeout_s = timeout_s
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = -float("inf")
        self._attempted_at = -float("inf")
        self._lock = asyncio.Lock()

    def _fresh(self) -> bool:
        return time.monotonic() - self._fetched_at < self.max_age_s

    async def _fetch(self) -> None:
        self._attempted_at = time.monotonic()
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as client:
                response = await client.get(self.url)
                response.raise_for_status()
                document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise AuthUnavailable(f"cannot fetch the signing keys from {self.url}: {exc}") from exc
        keys: dict[str, jwt.PyJWK] = {}
        for entry in document.get("keys", []) if isinstance(document, dict) else []:
            try:
                key = jwt.PyJWK(entry)
            except (jwt.PyJWKError, jwt.InvalidKeyError, KeyError, ValueError) as exc:
                log.warning("ignoring an unusable key in %s: %s", self.url, exc)
                continue
            if key.key_id:
                keys[key.key_id] = key
        self._keys = keys
        self._fetched_at = time.monotonic()
        log.info("fetched %d signing key(s) from %s", len(keys), self.url)

    async def get(self, kid: str) -> jwt.PyJWK:
        key = self._keys.get(kid)
        if key is not None and self._fresh():
            return key
        async with self._lock:
            stale = not self._fresh()
            if (stale or kid not in self._keys) and (
                time.monotonic() - self._attempted_at >= self.refresh_cooldown_s
            ):
                await self._fetch()
            elif stale:
                raise AuthUnavailable(f"the signing keys from {self.url} could not be fetched recently")
        key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("the token is signed with an unknown key")
        return key


class TokenVerifier:
    def __init__(self, issuer: str, hs256_secret: bytes | None = None, jwks: JwksCache | None = None) -> None:
        if hs256_secret is None and jwks is None:
            raise ValueError("a verifier needs a JWKS, an HS256 secret, or both")
        self.issuer = issuer
        self.hs256_secret = hs256_secret
        self.jwks = jwks

    @classmethod
    def from_settings(cls, settings: AuthSettings, **jwks_options: Any) -> TokenVerifier:
        jwks = None
        if settings.jwks_url:
            options = {
                "max_age_s": settings.jwks_max_age_s,
                "refresh_cooldown_s": settings.jwks_min_refetch_s,
            }
            jwks = JwksCache(settings.jwks_url, **{**options, **jwks_options})
        return cls(settings.issuer, settings.hs256_secret, jwks)

    async def _key(self, header: dict[str, Any]) -> tuple[Any, str]:
        alg = header.get("alg")
        if alg == "HS256":
            if self.hs256_secret is None:
                raise InvalidToken("HS256 tokens are not accepted here")
            return self.hs256_secret, alg
        if alg in ASYMMETRIC:
            if self.jwks is None:
                raise InvalidToken(f"{alg} tokens are not accepted here")
            kid = header.get("kid")
            if not isinstance(kid, str) or not kid:
                raise InvalidToken("the token names no key (kid)")
            key = await self.jwks.get(kid)
            if key.algorithm_name != alg:
                raise InvalidToken(f"key {kid} is not a {alg} key")
            return key.key, alg
        raise InvalidToken(f"algorithm {alg!r} is not accepted")

    async def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or InvalidToken / AuthUnavailable."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"malformed token: {exc}") from exc
        key, alg = await self._key(header)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=AUDIENCE,
                issuer=self.issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("the token has expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise InvalidToken("the token is not for this audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise InvalidToken("the token was issued by someone else") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"invalid token: {exc}") from exc
        if claims.get("role") != "authenticated":
            raise InvalidToken("the token is not a signed-in user's")
        try:
            uuid.UUID(str(claims["sub"]))
        except ValueError as exc:
            raise InvalidToken("the token's subject is not a user id") from exc
        return claims
