"""The TOML file, the PECUS_AGENT_* overrides and the plain-language errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pecus.agent.config import ConfigError, load_config, parse_duration

REPO = Path(__file__).resolve().parents[2]
FARM = "6f1c3a52-6a8e-4c8c-9a36-0d6f0f6b1e11"

MINIMAL = f"""
cloud_url = "https://api.pecus.example/"
farm_id = "{FARM}"
api_key = "pk_live_secret"
time_zone = "Europe/Rome"

[[source]]
url = "mssql://reader:pw@localhost/DDMVMS"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path | None, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, env or {})
    return caught.value.problems


def test_the_example_in_the_repository_is_valid() -> None:
    config = load_config(REPO / "deploy" / "agent.example.toml", {})
    assert [s.name for s in config.sources] == ["delpro", "parlour"]
    assert config.sources[0].mapping is None
    mapping = config.sources[1].mapping
    assert mapping is not None and mapping.id == "TransactionID" and mapping.columns["unit"] == "Stall"
    assert config.api_key_file == REPO / "deploy" / "agent.key"
    assert config.interval == 3600 and config.request_timeout == 30


def test_defaults_and_normalisation(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL), {})
    assert config.cloud_url == "https://api.pecus.example"
    assert config.sources[0].name == "delpro"
    assert config.sources[0].url.get_secret_value() == "mssql+pymssql://reader:pw@localhost/DDMVMS"
    assert config.sources[0].display_url == "mssql+pymssql://reader:***@localhost/DDMVMS"
    assert (config.interval, config.max_batch_size, config.request_timeout, config.retry_attempts) == (
        3600,
        5000,
        30,
        5,
    )
    assert config.key() == "pk_live_secret"
    assert "pk_live_secret" not in repr(config) and "pw@" not in repr(config)


@pytest.mark.parametrize(
    ("text", "seconds"), [("1h", 3600), ("15m", 900), ("90s", 90), ("1h30m", 5400), (45, 45)]
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_environment_overrides_every_key(tmp_path: Path) -> None:
    env = {
        "PECUS_AGENT_API_KEY": "from-env",
        "PECUS_AGENT_MAX_BATCH_SIZE": "250",
        "PECUS_AGENT_INTERVAL": "15m",
        "PECUS_AGENT_SOURCE__DELPRO__URL": "sqlite:///delpro.db",
        "PECUS_AGENT_SOURCE__1__NAME": "parlour",
        "PECUS_AGENT_SOURCE__1__URL": "sqlite:///parlour.db",
        "PECUS_AGENT_SOURCE__1__MAPPING__TABLE": "MilkingSessions",
        "PECUS_AGENT_SOURCE__1__MAPPING__ID": "TransactionID",
        "PECUS_AGENT_SOURCE__1__MAPPING__EXTRA": "Operator, Shift",
        **{
            f"PECUS_AGENT_SOURCE__1__MAPPING__COLUMNS__{k.upper()}": v
            for k, v in {
                "unit": "Stall",
                "animal_id": "Cow",
                "started_at": "T0",
                "ended_at": "T1",
                "yield_kg": "Kg",
            }.items()
        },
        "OTHER_VARIABLE": "ignored",
    }
    config = load_config(write(tmp_path, MINIMAL), env)
    assert config.key() == "from-env"
    assert config.max_batch_size == 250 and config.interval == 900
    assert config.sources[0].url.get_secret_value() == "sqlite:///delpro.db"
    mapping = config.source("parlour").mapping
    assert (
        mapping is not None
        and mapping.extra == ["Operator", "Shift"]
        and mapping.columns["animal_id"] == "Cow"
    )


def test_the_environment_alone_is_enough(tmp_path: Path) -> None:
    env = {
        "PECUS_AGENT_CONFIG": str(tmp_path / "nowhere.toml"),
    }
    assert problems(None, env) == ["the file does not exist"]
    env = {
        "PECUS_AGENT_CLOUD_URL": "http://127.0.0.1:8000",
        "PECUS_AGENT_FARM_ID": FARM,
        "PECUS_AGENT_API_KEY": "k",
        "PECUS_AGENT_TIME_ZONE": "UTC",
        "PECUS_AGENT_SOURCE__0__URL": "sqlite:///x.db",
    }
    config = load_config(None, env)  # no file at the default path: the environment alone
    assert config.sources[0].name == "delpro"


def test_mistakes_are_named_in_plain_words(tmp_path: Path) -> None:
    text = """
cloud_url = "api.pecus.example"
farm_id = "farm 7"
api_key = "k"
api_key_file = "k.txt"
time_zone = "Europe/Rom"
interval = "hourly"
max_batch_size = "lots"
retry_atempts = 3

[[source]]
name = "delpro"
url = "not a url"

[[source]]
name = "delpro"
url = "sqlite:///p.db"
[source.mapping]
table = "MilkingSessions"
id = "TransactionID"
[source.mapping.columns]
unit = "Stall"
yeild_kg = "Kg"
"""
    found = problems(write(tmp_path, text))
    assert "cloud_url: must be a web address starting with https:// (or http:// on a local network)" in found
    assert "farm_id: must be the farm's id as printed by `pecus create-farm` (a UUID)" in found
    assert "time_zone: 'Europe/Rom' is not a known time zone; use an IANA name such as 'Europe/Rome'" in found
    assert any(p.startswith("interval: 'hourly' is not a duration") for p in found)
    assert any(p.startswith("max_batch_size: Input should be a valid integer") for p in found)
    assert "retry_atempts: is not a known setting (a typo?)" in found
    assert any(p.startswith("source[0].url: is not a database URL") for p in found)
    assert any(p.startswith("source[1].mapping.columns: unknown session column(s) yeild_kg") for p in found)


def test_cross_field_mistakes(tmp_path: Path) -> None:
    both = MINIMAL.replace('api_key = "pk_live_secret"', 'api_key = "a"\napi_key_file = "k"')
    assert problems(write(tmp_path, both)) == ["give exactly one of api_key or api_key_file"]
    twice = MINIMAL + '\n[[source]]\nurl = "sqlite:///b.db"\n'
    assert problems(write(tmp_path, twice)) == ["source names must be unique; repeated: delpro"]
    unmapped = MINIMAL + '[source.mapping]\ntable = "T"\nid = "Id"\ncolumns = { unit = "U" }\n'
    (problem,) = problems(write(tmp_path, unmapped))
    assert problem.startswith(
        "source[0].mapping.columns: the required session column(s) animal_id, started_at"
    )


def test_an_override_that_is_wrong_names_the_variable(tmp_path: Path) -> None:
    found = problems(write(tmp_path, MINIMAL), {"PECUS_AGENT_RETRY_ATTEMPTS": "many"})
    assert found == [
        "retry_attempts: Input should be a valid integer, unable to parse string as an integer"
        " (from PECUS_AGENT_RETRY_ATTEMPTS)"
    ]


def test_bad_toml_and_key_files(tmp_path: Path) -> None:
    (problem,) = problems(write(tmp_path, "cloud_url = 'x\n"))
    assert problem.startswith("this is not valid TOML")
    keyed = MINIMAL.replace('api_key = "pk_live_secret"', 'api_key_file = "secrets/agent.key"')
    config = load_config(write(tmp_path, keyed), {})
    assert config.api_key_file == tmp_path / "secrets" / "agent.key"
    with pytest.raises(ConfigError, match="cannot read"):
        config.key()
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "agent.key").write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        config.key()
    (tmp_path / "secrets" / "agent.key").write_text("pk_from_file\n")
    assert config.key() == "pk_from_file"
