"""Who is calling the dashboard API.

Two modes (`PECUS_AUTH_MODE`): `supabase` (production: Supabase Auth signs people in, the API
verifies its tokens against the project's JWKS or legacy HS256 secret) and `local` (the embedded
default and self-hosting: the API signs people in itself, with argon2 password hashes in
`auth.users` and tokens shaped like Supabase's). Either way the verified claims go into
`pecus.cloud.tenancy.user_transaction`, so row-level security decides what a request sees.
"""
