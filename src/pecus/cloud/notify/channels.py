"""Notification targets are apprise URLs (`twilio://…` for SMS and WhatsApp, `tgram://…`,
`mailtos://…`, `ntfys://…` for phone push, `json://…` webhooks, …). This module checks them (scheme
allowed, apprise understands it, not aimed at our own network) and sends one message to one of
them. Masking for display is farm administration's (`farm_admin.mask_apprise_url`).

Idempotency: the webhook plugins (json, form, xml) send an `Idempotency-Key` header that is the
same on every attempt of one notification, so a receiver that honours it (as most payment-grade
APIs do) drops a re-send. SMS, WhatsApp, Telegram, e-mail and ntfy offer nothing of the kind.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from dataclasses import dataclass
from typing import Any

import apprise

log = logging.getLogger(__name__)

DEFAULT_SCHEMES = frozenset(
    {
        "twilio",  # SMS, and WhatsApp with `w:` targets
        "whatsapp",  # Meta's WhatsApp Cloud API
        "tgram",
        "mailto",
        "mailtos",
        "ntfy",
        "ntfys",
        "json",
        "jsons",
        "form",
        "forms",
        "xml",
        "xmls",
        "pover",
        "gotify",
        "gotifys",
        "signal",
        "signals",
        "discord",
        "slack",
    }
)
"""Channels a farm may use. Others (desktop pop-ups, local files, …) make no sense on a server."""

WEBHOOK_SCHEMES = frozenset({"json", "jsons", "form", "forms", "xml", "xmls"})
SELF_HOSTED_SCHEMES = WEBHOOK_SCHEMES | {
    "ntfy",
    "ntfys",
    "gotify",
    "gotifys",
    "signal",
    "signals",
    "mailto",
    "mailtos",
}
"""Schemes whose URL names the server to contact (the others talk to a fixed cloud API)."""


class InvalidTarget(ValueError):
    """The URL is not a notification target we accept; the message says why."""


@dataclass(frozen=True)
class SendResult:
    ok: bool
    error: str | None = None


def scheme_of(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def _plugin(url: str) -> Any:
    plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if plugin is None:
        raise InvalidTarget(f"not a valid {scheme_of(url) or 'apprise'} URL (see the apprise documentation)")
    return plugin


def check_target(url: str, schemes: frozenset[str] = DEFAULT_SCHEMES, *, allow_private: bool = False) -> str:
    """The URL's scheme if it is a target we accept; InvalidTarget naming the problem otherwise.
    `allow_private` permits hosts on loopback and private networks (self-hosted ntfy on the LAN,
    tests); without it such webhooks are refused so the API cannot be aimed at its own network."""
    url = url.strip()
    scheme = scheme_of(url)
    if not scheme:
        raise InvalidTarget("an apprise URL starts with a scheme, e.g. twilio://, tgram://, mailtos://")
    if scheme not in schemes:
        raise InvalidTarget(
            f"the scheme {scheme}:// is not accepted here; use one of {', '.join(sorted(schemes))}"
        )
    plugin = _plugin(url)
    host = getattr(plugin, "host", None)
    if scheme not in SELF_HOSTED_SCHEMES or allow_private:
        return scheme
    if isinstance(host, str) and host and _is_private(host):
        raise InvalidTarget(f"{host} is a loopback or private address; give a public host name")
    return scheme


def _is_private(host: str) -> bool:
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False  # unresolvable now: the send will fail and say so
    for address in addresses:
        ip = ipaddress.ip_address(str(address).split("%")[0])
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_unspecified:
            return True
    return False


def body_limit(url: str) -> int:
    """Characters one message may have on this channel (160 for SMS-like ones)."""
    try:
        return int(getattr(_plugin(url), "body_maxlen", 0)) or 32768
    except InvalidTarget:
        return 32768


def send(url: str, body: str, *, title: str = "", idempotency_key: str | None = None) -> SendResult:
    """Send one message to one target (blocking: call it in a thread). Never raises for a delivery
    problem: the result says what went wrong, from apprise's own log of the attempt."""
    try:
        plugin = _plugin(url)
    except InvalidTarget as exc:
        return SendResult(False, str(exc))
    if idempotency_key and scheme_of(url) in WEBHOOK_SCHEMES:
        plugin.headers["Idempotency-Key"] = idempotency_key
    # Channels without a subject (SMS, Telegram) would glue the title onto the body.
    title = title if getattr(plugin, "title_maxlen", 0) > 0 else ""
    sender = apprise.Apprise()
    sender.add(plugin)
    try:
        result = sender.notify(body=body, title=title)
    except Exception as exc:  # a plugin bug must not stop the dispatcher
        log.exception("apprise %s plugin failed", scheme_of(url))
        return SendResult(False, f"{type(exc).__name__}: {exc}")
    if result:
        return SendResult(True)
    # Apprise keeps each call's own log (safe with sends running in parallel threads).
    problems = "; ".join(entry.message for entry in result.logs() if entry.level in ("WARNING", "ERROR"))
    return SendResult(False, (problems or "the channel refused the message")[-2000:])
