"""Access-token verification against a JWKS served by a real local HTTP server (Supabase mode) and
the HS256 secrets (legacy Supabase, local mode)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from pecus.cloud.auth.config import AuthConfigError, AuthSettings
from pecus.cloud.auth.verify import AuthUnavailable, InvalidToken, JwksCache, TokenVerifier
from tests.support.jwks_server import JwksServer, jwks_server
from tests.support.tokens import SigningKey, ec_key, hand_made_token, rsa_key, user_claims

pytestmark = pytest.mark.anyio

LEGACY_SECRET = "legacy-supabase-jwt-secret-with-at-least-32-chars"


@pytest.fixture(scope="module")
def rsa() -> SigningKey:
    return rsa_key("rsa-1")


@pytest.fixture(scope="module")
def ec() -> SigningKey:
    return ec_key("ec-1")


@pytest.fixture
def server(rsa: SigningKey, ec: SigningKey) -> Iterator[JwksServer]:
    with jwks_server([rsa.public_jwk, ec.public_jwk]) as s:
        yield s


def supabase_verifier(server: JwksServer, secret: str | None = None, **jwks: float) -> TokenVerifier:
    env = {"PECUS_AUTH_MODE": "supabase", "SUPABASE_URL": server.url}
    if secret:
        env["SUPABASE_JWT_SECRET"] = secret
    settings = AuthSettings.from_env(env)
    assert settings.jwks_url == server.jwks_url
    return TokenVerifier.from_settings(settings, **jwks)


def issuer(server: JwksServer) -> str:
    return f"{server.url}/auth/v1"


async def test_valid_rs256_and_es256_tokens(server: JwksServer, rsa: SigningKey, ec: SigningKey) -> None:
    verifier = supabase_verifier(server)
    user = uuid.uuid4()
    for key in (rsa, ec):
        claims = await verifier.verify(key.sign(user_claims(issuer(server), user)))
        assert claims["sub"] == str(user)
        assert claims["role"] == "authenticated"
    assert server.requests == 1, "both keys come from one cached fetch"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"exp": int(time.time()) - 120}, "expired"),
        ({"aud": "somebody-else"}, "audience"),
        ({"iss": "https://evil.example/auth/v1"}, "issued by someone else"),
        ({"role": "anon"}, "signed-in user"),
        ({"role": "service_role"}, "signed-in user"),
        ({"sub": "not-a-uuid"}, "subject"),
        ({"exp": None}, "exp"),
        ({"aud": None}, "aud"),
    ],
)
async def test_bad_claims_are_refused(
    server: JwksServer, rsa: SigningKey, overrides: dict[str, object], message: str
) -> None:
    verifier = supabase_verifier(server)
    with pytest.raises(InvalidToken, match=message):
        await verifier.verify(rsa.sign(user_claims(issuer(server), **overrides)))


async def test_alg_none_is_refused(server: JwksServer) -> None:
    token = hand_made_token({"alg": "none", "typ": "JWT"}, user_claims(issuer(server)), None)
    with pytest.raises(InvalidToken, match="algorithm 'none'"):
        await supabase_verifier(server, LEGACY_SECRET).verify(token)


async def test_hs256_token_refused_when_only_jwks_is_configured(server: JwksServer, rsa: SigningKey) -> None:
    """Key confusion: HS256 keyed with the (public) RSA key, naming the RSA key's kid."""
    claims = user_claims(issuer(server))
    for secret in (rsa.public_pem, LEGACY_SECRET.encode()):
        token = hand_made_token({"alg": "HS256", "typ": "JWT", "kid": rsa.kid}, claims, secret)
        with pytest.raises(InvalidToken, match="HS256 tokens are not accepted"):
            await supabase_verifier(server).verify(token)


async def test_legacy_hs256_secret_when_configured(server: JwksServer, rsa: SigningKey) -> None:
    verifier = supabase_verifier(server, LEGACY_SECRET)
    claims = user_claims(issuer(server))
    token = hand_made_token({"alg": "HS256", "typ": "JWT"}, claims, LEGACY_SECRET.encode())
    assert (await verifier.verify(token))["sub"] == claims["sub"]
    forged = hand_made_token({"alg": "HS256", "typ": "JWT"}, claims, b"x" * 48)
    with pytest.raises(InvalidToken, match="Signature verification failed"):
        await verifier.verify(forged)
    # The public key is no HMAC secret even when a legacy secret exists.
    confused = hand_made_token({"alg": "HS256", "typ": "JWT", "kid": rsa.kid}, claims, rsa.public_pem)
    with pytest.raises(InvalidToken):
        await verifier.verify(confused)
    # JWKS keys keep working alongside.
    assert (await verifier.verify(rsa.sign(claims)))["sub"] == claims["sub"]


async def test_key_of_the_wrong_type_for_the_algorithm(server: JwksServer, ec: SigningKey) -> None:
    """An RS256 header naming the EC key's kid: the key type must fit the algorithm."""
    rogue = SigningKey(ec.kid, "RS256", rsa_key().private)
    with pytest.raises(InvalidToken, match="is not a RS256 key"):
        await supabase_verifier(server).verify(rogue.sign(user_claims(issuer(server))))


async def test_tampered_payload_is_refused(server: JwksServer, rsa: SigningKey) -> None:
    token = rsa.sign(user_claims(issuer(server)))
    other = rsa.sign(user_claims(issuer(server), role="authenticated", sub=str(uuid.uuid4())))
    header, _, signature = token.split(".")
    spliced = ".".join([header, other.split(".")[1], signature])
    with pytest.raises(InvalidToken, match="Signature verification failed"):
        await supabase_verifier(server).verify(spliced)


async def test_unknown_kid_fetches_the_rotated_jwks(server: JwksServer, rsa: SigningKey) -> None:
    verifier = supabase_verifier(server, refresh_cooldown_s=0)
    await verifier.verify(rsa.sign(user_claims(issuer(server))))
    assert server.requests == 1
    rotated = ec_key("ec-rotated")
    server.keys.append(rotated.public_jwk)
    claims = await verifier.verify(rotated.sign(user_claims(issuer(server))))
    assert claims["role"] == "authenticated"
    assert server.requests == 2
    # A kid that is in no JWKS stays refused, after one more look.
    with pytest.raises(InvalidToken, match="unknown key"):
        await verifier.verify(ec_key("never-published").sign(user_claims(issuer(server))))
    assert server.requests == 3


async def test_made_up_kids_do_not_flood_the_jwks_endpoint(server: JwksServer, rsa: SigningKey) -> None:
    verifier = supabase_verifier(server, refresh_cooldown_s=60)
    await verifier.verify(rsa.sign(user_claims(issuer(server))))
    for _ in range(20):
        with pytest.raises(InvalidToken, match="unknown key"):
            await verifier.verify(ec_key().sign(user_claims(issuer(server))))
    assert server.requests == 1


async def test_cache_expires_and_a_removed_key_stops_working(server: JwksServer, rsa: SigningKey) -> None:
    assert JwksCache(server.jwks_url, max_age_s=3600).max_age_s == 600, "never cached beyond 10 minutes"
    verifier = supabase_verifier(server, refresh_cooldown_s=0)
    assert verifier.jwks is not None
    verifier.jwks.max_age_s = 1.5
    token = rsa.sign(user_claims(issuer(server)))
    await verifier.verify(token)
    server.keys = [k for k in server.keys if k["kid"] != rsa.kid]
    await verifier.verify(token)  # still cached
    assert server.requests == 1
    time.sleep(1.6)
    with pytest.raises(InvalidToken, match="unknown key"):
        await verifier.verify(token)
    assert server.requests == 2


async def test_jwks_unreachable(server: JwksServer, rsa: SigningKey) -> None:
    verifier = supabase_verifier(server, refresh_cooldown_s=0)
    server.stop()
    with pytest.raises(AuthUnavailable, match="cannot fetch the signing keys"):
        await verifier.verify(rsa.sign(user_claims(issuer(server))))


async def test_jwks_error_status(server: JwksServer, rsa: SigningKey) -> None:
    server.status = 500
    with pytest.raises(AuthUnavailable, match="500"):
        await supabase_verifier(server).verify(rsa.sign(user_claims(issuer(server))))


async def test_garbage_is_refused(server: JwksServer) -> None:
    for token in ("", "abc", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30."):
        with pytest.raises(InvalidToken):
            await supabase_verifier(server).verify(token)


def test_configuration_errors(tmp_path: object) -> None:
    with pytest.raises(AuthConfigError, match="SUPABASE_URL"):
        AuthSettings.from_env({"PECUS_AUTH_MODE": "supabase"})
    with pytest.raises(AuthConfigError, match="'local' or 'supabase'"):
        AuthSettings.from_env({"PECUS_AUTH_MODE": "ldap"})
    with pytest.raises(AuthConfigError, match="at least 32"):
        AuthSettings.from_env({"PECUS_JWT_SECRET": "short"})
    with pytest.raises(AuthConfigError, match="PECUS_JWKS_CACHE_SECONDS must be between 0 and 600"):
        AuthSettings.from_env(
            {
                "PECUS_AUTH_MODE": "supabase",
                "SUPABASE_URL": "https://x.supabase.co",
                "PECUS_JWKS_CACHE_SECONDS": "3600",
            }
        )


def test_local_secret_is_generated_once(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PECUS_HOME", str(tmp_path))
    first = AuthSettings.from_env({})
    second = AuthSettings.from_env({})
    assert first.hs256_secret is not None and len(first.hs256_secret) >= 32
    assert first.hs256_secret == second.hs256_secret
    assert first.jwks_url is None, "local mode accepts only its own HS256 tokens"
