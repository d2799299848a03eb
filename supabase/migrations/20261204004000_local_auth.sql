-- Local sign-in (PECUS_AUTH_MODE=local: the embedded default and self-hosting without Supabase).
-- Passwords are argon2id hashes in auth.users.encrypted_password (the shim's table). These two
-- tables live in `private`, which no API role can read: only the API's own connection role (the
-- table owner) touches them, while signing someone in, before any user identity exists.
-- On Supabase they stay empty (Supabase Auth signs people in there).

-- Refresh tokens: only a SHA-256 of the 256-bit random token is stored. Each token works once
-- (rotation); a spent token presented again revokes its whole session (reuse detection).
CREATE TABLE private.refresh_tokens (
    token_hash bytea PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES auth.users ON DELETE CASCADE,
    session_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX refresh_tokens_session_idx ON private.refresh_tokens (session_id);
CREATE INDEX refresh_tokens_expired_idx ON private.refresh_tokens (expires_at);

-- Sign-in attempts per e-mail and per client address, for rate limiting across API instances.
-- An attempt is written *before* the password is checked (so parallel guesses all count) and
-- deleted when it succeeds: what remains are the failures of the window.
CREATE TABLE private.login_attempts (
    attempt_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bucket text NOT NULL,
    attempted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_attempts_bucket_idx ON private.login_attempts (bucket, attempted_at);

REVOKE ALL ON private.refresh_tokens, private.login_attempts FROM PUBLIC, anon, authenticated;
