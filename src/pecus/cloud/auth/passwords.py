"""Password hashing for local sign-in: argon2id (argon2-cffi's defaults, RFC 9106 low-memory
profile), stored in `auth.users.encrypted_password` in PHC string form."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 8
_hasher = PasswordHasher()


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@cache
def _decoy_hash() -> str:
    return _hasher.hash("decoy password for unknown accounts")


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when `password` matches. Without a stored hash (unknown account, or an account that
    signs in elsewhere) a decoy hash is checked instead, so the answer takes as long either way
    and response times do not reveal which e-mails have accounts."""
    try:
        return _hasher.verify(stored_hash or _decoy_hash(), password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)
