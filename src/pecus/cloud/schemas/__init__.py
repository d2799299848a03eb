"""Response and request models of the dashboard API (`/api/v1`), the contract with the web app.

`auth` — sign-in (local mode) and who am I; `dashboard` — overview, herd list, cow series;
`admin` — farm settings, notification targets, agent keys, members (owner only for changes).
Units are in each field's description; times are UTC ISO-8601, days are the farm's local dates.
Every error is `{"error": {"code", "message", "details"}}` (see docs/api.md).
"""
