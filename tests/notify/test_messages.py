"""Message texts, quiet-hour arithmetic and target URL checks: pure functions, no server."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time

import pytest

from pecus.cloud.farm_admin import mask_apprise_url
from pecus.cloud.notify import channels, messages
from pecus.cloud.notify.config import NeedsSessionConnection, direct_database_url
from pecus.cloud.notify.quiet_hours import quiet_until

FARM = uuid.UUID("3f2a8c1e-0000-4000-8000-000000000001")
URL = "https://app.pecus.example"


def facts(**changes: object) -> messages.AlertFacts:
    base: dict[str, object] = {
        "farm_id": FARM,
        "kind": "mastitis",
        "animal_id": "1234",
        "unit": "Robot 2",
        "risk_score": 0.72,
        "critical": False,
        "reasons": [
            {"signal": "conductivity_lr", "change_pct": 34.0},
            {"signal": "yield", "change_pct": -18.0},
        ],
        "time_zone": "Europe/Rome",
    }
    base.update(changes)
    return messages.AlertFacts(**base)  # type: ignore[arg-type]


def test_alert_message_names_cow_unit_what_moved_risk_and_link() -> None:
    text = messages.alert_message(facts(), URL)
    assert (
        text == f"Pecus: cow 1234 (Robot 2) risk 72%. LR cond +34%, yield -18%. {URL}/farms/{FARM}/cows/1234"
    )


def test_critical_alert_says_high_risk() -> None:
    assert "HIGH risk 93%" in messages.alert_message(facts(risk_score=0.93, critical=True), URL)


def test_long_reasons_are_dropped_to_fit_one_sms_and_the_link_stays() -> None:
    reasons = [{"text": f"signal number {i} moved a great deal over the last two days"} for i in range(8)]
    text = messages.alert_message(facts(reasons=reasons), URL)
    assert len(text) <= messages.SMS_CHARS
    assert text.endswith(f"{URL}/farms/{FARM}/cows/1234")
    assert "signal number 0" in text and "signal number 7" not in text


def test_a_first_reason_too_long_for_the_sms_is_cut_not_lost() -> None:
    text = messages.alert_message(facts(reasons=[{"text": "x" * 300}]), URL)
    assert len(text) <= messages.SMS_CHARS and "xxxx..." in text
    assert text.endswith("/cows/1234")


def test_even_a_very_long_public_url_keeps_the_message_within_one_sms() -> None:
    long_url = "https://" + "a" * 90 + ".example"
    text = messages.alert_message(facts(unit="Robot with a very long name indeed"), long_url)
    assert len(text) <= messages.SMS_CHARS
    assert text.endswith(f"/farms/{FARM}/cows/1234")
    link_only = messages.alert_message(facts(), "https://" + "b" * 110 + ".example")
    assert link_only.startswith("https://bbb") and len(link_only) <= messages.SMS_CHARS + 40


def test_text_is_plain_gsm_characters_and_the_cow_number_is_escaped_in_the_link() -> None:
    text = messages.alert_message(
        facts(
            animal_id="Stella 7/B", unit="Stalla Nord – Robot 1", reasons=[{"text": "resa −18 % più bassa"}]
        ),
        URL,
    )
    assert text.isascii()
    assert "cow Stella 7/B (Stalla Nord - Robot 1) risk 72%. resa -18 %" in text
    assert text.endswith("/cows/Stella%207%2FB")


def test_reasons_in_every_shape_the_engine_may_write() -> None:
    assert messages.reason_text({"signal": "conductivity_rf", "change_pct": 21.6}) == "RF cond +22%"
    assert messages.reason_text({"signal": "blood_max", "value": True}) == "blood"
    assert messages.reason_text({"text": "early lactation"}) == "early lactation"
    assert messages.reason_text({"signal": "udder_temp"}) == "udder temp"
    assert messages.reason_text("milk yield down") == "milk yield down"


@pytest.mark.parametrize(
    ("reason", "short"),
    [
        ({"signal": "conductivity", "quarter": "lr", "value": 0.3412, "text": "rear-left"}, "LR cond +34%"),
        ({"signal": "quarter_ratio", "quarter": "rf", "value": 1.27}, "RF +27% vs other quarters"),
        ({"signal": "quarter_yield", "quarter": "lf", "value": -0.22}, "LF yield -22%"),
        ({"signal": "yield", "value": -0.184, "text": "yield −18 % vs expected"}, "yield -18%"),
        ({"signal": "blood", "value": 1240.0}, "blood 1240 ppm"),
        ({"signal": "cell_count", "value": 450.0}, "SCC 450k"),
        ({"signal": "mdi", "value": 2.14}, "MDi 2.1"),
        ({"signal": "interval", "value": 15.2}, "15 h since last milking"),
        ({"signal": "kickoff", "value": 3.0}, "3 kick-offs"),
        # A quarter signal without its quarter keeps the engine's words.
        ({"signal": "conductivity", "value": 0.3, "text": "conductivity +30 %"}, "conductivity +30 %"),
    ],
)  # fmt: skip
def test_the_ai_engines_reasons_are_written_short(reason: dict[str, object], short: str) -> None:
    assert messages.reason_text(reason) == short


def test_repeat_is_marked() -> None:
    assert messages.alert_message(facts(), URL, repeat=True).startswith("Pecus (repeat): cow 1234")


def test_data_feed_message_gives_the_last_milking_in_farm_time() -> None:
    f = facts(kind="data_feed", animal_id=None, unit="Robot 3", risk_score=None, reasons=[])
    text = messages.alert_message(f, URL, last_session_at=datetime(2026, 7, 1, 2, 12, tzinfo=UTC))
    # 02:12 UTC is 04:12 in Rome in summer.
    assert (
        text == "Pecus: no milkings from Robot 3 since 01/07 04:12. Check the robot and the farm PC agent."
        f" {URL}/farms/{FARM}"
    )


def test_digest_lists_what_fits_and_counts_the_rest() -> None:
    many = [facts(animal_id=str(100 + i), risk_score=0.6) for i in range(10)]
    text = messages.digest_message(many, FARM, URL)
    assert len(text) <= messages.SMS_CHARS
    assert text.startswith("Pecus: 10 new alerts: cow 100 (Robot 2) 60%;")
    assert "more." in text and text.endswith(f"/farms/{FARM}/alerts")
    long = messages.digest_message(many, FARM, URL, limit=messages.DIGEST_CHARS)
    assert all(f"cow {100 + i} " in long for i in range(10)) and "more" not in long


ROME = "Europe/Rome"


@pytest.mark.parametrize(
    ("now_utc", "start", "end", "expected_utc"),
    [
        # 22:00-06:00 spanning midnight, in winter (UTC+1).
        (
            datetime(2026, 1, 10, 22, 30, tzinfo=UTC),
            time(22),
            time(6),
            datetime(2026, 1, 11, 5, 0, tzinfo=UTC),
        ),
        (datetime(2026, 1, 10, 3, 0, tzinfo=UTC), time(22), time(6), datetime(2026, 1, 10, 5, 0, tzinfo=UTC)),
        (datetime(2026, 1, 10, 5, 0, tzinfo=UTC), time(22), time(6), None),  # 06:00 local: over
        (datetime(2026, 1, 10, 12, 0, tzinfo=UTC), time(22), time(6), None),
        (datetime(2026, 1, 10, 20, 59, tzinfo=UTC), time(22), time(6), None),  # 21:59 local
        # A daytime period (13:00-15:00), in summer (UTC+2).
        (
            datetime(2026, 7, 1, 11, 30, tzinfo=UTC),
            time(13),
            time(15),
            datetime(2026, 7, 1, 13, 0, tzinfo=UTC),
        ),
        # The night clocks go forward (29 March 2026, 02:00 -> 03:00): ends at 06:00 CEST.
        (
            datetime(2026, 3, 28, 23, 0, tzinfo=UTC),
            time(22),
            time(6),
            datetime(2026, 3, 29, 4, 0, tzinfo=UTC),
        ),
        # The night clocks go back (25 October 2026): ends at 06:00 CET.
        (
            datetime(2026, 10, 24, 21, 0, tzinfo=UTC),
            time(22),
            time(6),
            datetime(2026, 10, 25, 5, 0, tzinfo=UTC),
        ),
    ],
)
def test_quiet_hours_end_in_the_farm_time_zone(
    now_utc: datetime, start: time, end: time, expected_utc: datetime | None
) -> None:
    assert quiet_until(now_utc, start, end, ROME) == expected_utc


def test_no_quiet_hours_without_both_ends_or_with_equal_ends() -> None:
    now = datetime(2026, 1, 10, 23, 0, tzinfo=UTC)
    assert quiet_until(now, None, time(6), ROME) is None
    assert quiet_until(now, time(22), None, ROME) is None
    assert quiet_until(now, time(6), time(6), ROME) is None


@pytest.mark.parametrize(
    ("url", "secrets"),
    [
        (
            "twilio://ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb@+15551234567/+15557654321",
            ["bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"],
        ),
        (
            "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-1001234567/",
            ["AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"],
        ),
        ("mailtos://farmer:s3cr3t-pw@mail.example.com?to=vet@example.com", ["s3cr3t-pw"]),
        ("ntfys://user:hunter22@ntfy.example.com/barn-alerts", ["hunter22"]),
        (
            "json://hooks.example.com/in?+Authorization=Bearer%20tok-123&:apikey=k-456&-token=t-789",
            ["tok-123", "k-456", "t-789"],
        ),
    ],
)
def test_masked_urls_show_no_secret(url: str, secrets: list[str]) -> None:
    scheme, masked = mask_apprise_url(url)
    assert scheme == url.split("://")[0]
    assert masked.split("://")[0] == url.split("://")[0]
    for secret in secrets:
        assert secret not in masked, masked


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("not a url", "starts with a scheme"),
        ("windows://", "not accepted here"),
        ("tgram://", "not a valid tgram URL"),
        ("json://127.0.0.1:8080/hook", "loopback or private"),
        ("ntfy://10.1.2.3/barn", "loopback or private"),
    ],
)
def test_targets_we_refuse_say_why(url: str, reason: str) -> None:
    with pytest.raises(channels.InvalidTarget, match=reason):
        channels.check_target(url)


def test_private_hosts_are_allowed_when_configured_and_cloud_apis_are_not_checked() -> None:
    assert channels.check_target("ntfy://192.168.1.20/barn", allow_private=True) == "ntfy"
    # A Telegram URL's "host" is the bot's id, not a server: Telegram's API is what is contacted.
    assert channels.check_target("tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-100123/") == "tgram"


def test_background_jobs_refuse_supabases_transaction_pooler(monkeypatch: pytest.MonkeyPatch) -> None:
    pooler = "postgresql://postgres.ref:pw@aws-0-eu-central-1.pooler.supabase.com:6543/postgres"
    direct = "postgresql://postgres:pw@db.ref.supabase.co:5432/postgres"
    monkeypatch.delenv("DATABASE_DIRECT_URL", raising=False)
    with pytest.raises(NeedsSessionConnection, match="DATABASE_DIRECT_URL"):
        direct_database_url(pooler)
    monkeypatch.setenv("DATABASE_DIRECT_URL", direct)
    assert direct_database_url(pooler) == direct
