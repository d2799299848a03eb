"""Notifications of alerts: the outbox dispatcher (`dispatcher`), the channels apprise delivers to
(`channels`), the message texts (`messages`), quiet hours (`quiet_hours`), the dashboard's view of
the targets (`targets`) and their settings (`config`). Delivery guarantees: docs/alerts.md."""
