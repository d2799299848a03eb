"""The cloud side: API, database access, auth, alerts and notifications."""
