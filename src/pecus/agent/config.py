"""The agent's configuration: one TOML file, every key overridable by a `PECUS_AGENT_*` variable.

Environment overrides use `__` to go one level down; a source is named by its position or its
name: `PECUS_AGENT_API_KEY`, `PECUS_AGENT_SOURCE__0__URL`, `PECUS_AGENT_SOURCE__DELPRO__URL`,
`PECUS_AGENT_SOURCE__PARLOUR__MAPPING__COLUMNS__UNIT`. Errors name the setting and say what is
wrong in plain words, because the person reading them is a technician on a remote desktop.
"""

from __future__ import annotations

import os
import re
import sys
import tomllib
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from pecus.contract import REQUIRED_COLUMNS, SESSION_COLUMNS

ENV_PREFIX = "PECUS_AGENT_"
CONFIG_ENV = "PECUS_AGENT_CONFIG"
DEFAULT_SOURCE_DRIVER = "mssql+pymssql"

_DURATION = re.compile(r"^\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*(?:(\d+)\s*s)?\s*$")


class ConfigError(Exception):
    """The configuration cannot be used; `problems` holds one plain-language line per mistake."""

    def __init__(self, problems: list[str], origin: str = "") -> None:
        self.problems = problems
        self.origin = origin
        where = f" in {origin}" if origin else ""
        super().__init__(f"the agent configuration{where} has problems:\n  - " + "\n  - ".join(problems))


def parse_duration(value: Any) -> float:
    """Seconds from a number of seconds or a text such as "1h", "15m", "90s", "1h30m"."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            seconds = float(text)
        except ValueError:
            match = _DURATION.match(text.lower())
            if not match or not any(match.groups()):
                raise ValueError(
                    f"{value!r} is not a duration; write seconds (3600) or a text like '1h', '15m', '90s'"
                ) from None
            h, m, s = (int(g or 0) for g in match.groups())
            seconds = h * 3600.0 + m * 60.0 + s
    else:
        raise ValueError("must be a duration: seconds (3600) or a text like '1h', '15m', '90s'")
    if seconds <= 0:
        raise ValueError("must be longer than zero")
    return seconds


def _split_list(value: Any) -> Any:
    # Lists come from TOML as lists, from environment variables as "a, b, c".
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


Duration = Annotated[float, BeforeValidator(parse_duration)]


class TableMapping(BaseModel):
    """A source that is not a stock DelPro: any table or view, one row per milking."""

    model_config = ConfigDict(extra="forbid")

    table: Annotated[str, Field(min_length=1)]
    id: Annotated[str, Field(min_length=1)]
    times: Literal["local", "utc"] = "local"
    columns: dict[str, str]
    extra: Annotated[list[str], BeforeValidator(_split_list)] = Field(default_factory=list)

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, columns: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(columns) - set(SESSION_COLUMNS) - {"transaction_id"})
        if unknown:
            raise ValueError(
                f"unknown session column(s) {', '.join(unknown)}; known: {', '.join(SESSION_COLUMNS)}"
            )
        if "transaction_id" in columns:
            raise ValueError("transaction_id comes from the `id` setting, not from `columns`")
        if "extra" in columns:
            raise ValueError("list the source columns to carry as-is in `extra = [...]`, not in `columns`")
        missing = [c for c in REQUIRED_COLUMNS if c != "transaction_id" and c not in columns]
        if missing:
            raise ValueError(f"the required session column(s) {', '.join(missing)} are not mapped")
        empty = [k for k, v in columns.items() if not v.strip()]
        if empty:
            raise ValueError(f"no source column given for {', '.join(empty)}")
        return columns


class SourceConfig(BaseModel):
    """One local database the agent reads (normally the farm's DelPro)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")] = "delpro"
    url: SecretStr
    schema_name: Annotated[str | None, Field(alias="schema")] = None
    # None = the stock DelPro tables (pecus.agent.delpro).
    mapping: TableMapping | None = None

    @field_validator("url", mode="before")
    @classmethod
    def _sqlalchemy_url(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip()
        try:
            url = make_url(text)
        except ArgumentError:
            raise ValueError(
                "is not a database URL; write e.g. 'mssql+pymssql://user:password@localhost/DDMVMS'"
            ) from None
        if url.drivername == "mssql":  # SQL Server without a driver named: the one the agent ships
            text = url.set(drivername=DEFAULT_SOURCE_DRIVER).render_as_string(hide_password=False)
        return text

    @property
    def sqlalchemy_url(self) -> URL:
        return make_url(self.url.get_secret_value())

    @property
    def display_url(self) -> str:
        """The URL with its password hidden, for logs and `check`."""
        return self.sqlalchemy_url.render_as_string(hide_password=True)


class AgentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cloud_url: Annotated[str, Field(pattern=r"^https?://[^\s/]+", description="the Pecus cloud API")]
    farm_id: str
    api_key: SecretStr | None = None
    api_key_file: Path | None = None
    time_zone: str
    sources: Annotated[list[SourceConfig], Field(alias="source", min_length=1)]
    interval: Duration = 3600.0
    max_batch_size: Annotated[int, Field(ge=1, le=100_000)] = 5000  # the server's default cap
    request_timeout: Duration = 30.0
    retry_attempts: Annotated[int, Field(ge=1, le=20)] = 5
    retry_wait: Duration = 2.0  # first backoff; then doubles: 2, 4, 8, 16 s (+ jitter)
    late_commit_lookback: Annotated[int, Field(ge=0)] = 1000  # ids re-read below the watermark
    log_dir: Path | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    state_file: Path | None = None
    keep_awake: bool = True  # Windows: no idle sleep while a cycle runs

    @field_validator("cloud_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("farm_id")
    @classmethod
    def _farm_uuid(cls, value: str) -> str:
        try:
            return str(uuid.UUID(value.strip()))
        except ValueError:
            raise ValueError("must be the farm's id as printed by `pecus create-farm` (a UUID)") from None

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not a known time zone; use an IANA name such as 'Europe/Rome'"
            ) from None
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _key_and_names(self) -> AgentConfig:
        if (self.api_key is None) == (self.api_key_file is None):
            raise ValueError("give exactly one of api_key or api_key_file")
        names = [s.name for s in self.sources]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"source names must be unique; repeated: {', '.join(duplicates)}")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def key(self) -> str:
        """The API key, read from `api_key_file` when that is how it is given."""
        if self.api_key is not None:
            return self.api_key.get_secret_value().strip()
        assert self.api_key_file is not None
        try:
            key = self.api_key_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError([f"api_key_file: cannot read {self.api_key_file}: {exc.strerror}"]) from None
        if not key:
            raise ConfigError([f"api_key_file: {self.api_key_file} is empty"])
        return key

    def source(self, name: str) -> SourceConfig:
        for source in self.sources:
            if source.name == name:
                return source
        raise ConfigError([f"there is no source named {name!r}; configured: {self.source_names()}"])

    def source_names(self) -> str:
        return ", ".join(s.name for s in self.sources)

    def resolved_log_dir(self) -> Path:
        return self.log_dir or default_data_dir("logs")

    def resolved_state_file(self) -> Path:
        return self.state_file or default_data_dir("state") / "agent-state.json"


# --- where things live ------------------------------------------------------------------------


def _is_admin() -> bool:
    return sys.platform == "win32" or (hasattr(os, "geteuid") and os.geteuid() == 0)


def default_config_path() -> Path:
    """`%ProgramData%\\Pecus\\agent.toml` on Windows, `/etc/pecus/agent.toml` elsewhere."""
    if sys.platform == "win32":
        return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "Pecus" / "agent.toml"
    return Path("/etc/pecus/agent.toml")


def default_data_dir(kind: Literal["logs", "state"]) -> Path:
    """Windows: under %ProgramData%\\Pecus; a Linux service: /var/log/pecus and /var/lib/pecus;
    anyone else (a technician trying it out): the user's own folders."""
    if sys.platform == "win32":
        return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "Pecus" / kind
    if _is_admin():
        return Path("/var/log/pecus") if kind == "logs" else Path("/var/lib/pecus")
    import platformdirs

    if kind == "logs":
        return platformdirs.user_log_path("pecus-agent", appauthor=False)
    return platformdirs.user_state_path("pecus-agent", appauthor=False)


# --- loading ----------------------------------------------------------------------------------


def _apply_env(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, str]:
    """Write PECUS_AGENT_* overrides into `data`; returns {dotted path: variable} for messages."""
    origins: dict[str, str] = {}
    for var in sorted(environ):
        if not var.startswith(ENV_PREFIX) or var == CONFIG_ENV:
            continue
        path = [part.lower() for part in var[len(ENV_PREFIX) :].split("__") if part]
        if not path:
            continue
        if path[0] == "sources":
            path[0] = "source"
        node: Any = data
        resolved: list[str] = []
        for key in path[:-1]:
            if isinstance(node, list):
                index = _list_index(node, key)
                node, key = node[index], str(index)
            else:
                node = node.setdefault(key, [] if node is data and key == "source" else {})
            resolved.append(key)
            if not isinstance(node, dict | list):
                raise ConfigError([f"{var}: {'.'.join(resolved)} is not a section"])
        if isinstance(node, list):
            raise ConfigError([f"{var}: name the source too, e.g. {ENV_PREFIX}SOURCE__0__URL"])
        node[path[-1]] = environ[var]
        origins[".".join([*resolved, path[-1]])] = var
    return origins


def _list_index(items: list[Any], key: str) -> int:
    # A source by position (0, 1, ...) or by name; a new position or name adds a source.
    if key.isdigit():
        while len(items) <= int(key):
            items.append({})
        return int(key)
    for index, item in enumerate(items):
        if isinstance(item, dict) and str(item.get("name", "delpro")).lower() == key:
            return index
    items.append({"name": key})
    return len(items) - 1


def _describe(error: Any, origins: dict[str, str]) -> str:
    dotted = ".".join(str(part) for part in error["loc"])
    where = re.sub(r"\.(\d+)", r"[\1]", dotted)
    kind, message = error["type"], error["msg"]
    if kind == "missing":
        message = "is required but missing"
    elif kind == "extra_forbidden":
        message = "is not a known setting (a typo?)"
    elif message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    elif kind == "string_pattern_mismatch" and where == "cloud_url":
        message = "must be a web address starting with https:// (or http:// on a local network)"
    elif kind == "string_pattern_mismatch":
        message = "may only use letters, digits, '_', '.' and '-'"
    origin = f" (from {origins[dotted]})" if dotted in origins else ""
    return f"{where}: {message}{origin}" if where else message


def load_config(path: Path | None = None, environ: Mapping[str, str] | None = None) -> AgentConfig:
    """Read the TOML file (if any) and apply the environment; raises ConfigError in plain words.

    Without an explicit path: $PECUS_AGENT_CONFIG, else the per-OS default if it exists, else
    the environment alone."""
    environ = os.environ if environ is None else environ
    explicit = path is not None or CONFIG_ENV in environ
    path = Path(path or environ.get(CONFIG_ENV) or default_config_path())
    data: dict[str, Any] = {}
    origin = str(path)
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([f"this is not valid TOML: {exc}"], origin) from None
        except OSError as exc:
            raise ConfigError([f"cannot read the file: {exc.strerror}"], origin) from None
    elif explicit:
        raise ConfigError(["the file does not exist"], origin)
    else:
        origin = f"the environment ({ENV_PREFIX}*; no file at {path})"
    origins = _apply_env(data, environ)
    try:
        config = AgentConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([_describe(e, origins) for e in exc.errors()], origin) from None
    base = path.parent
    updates = {
        key: base / value
        for key in ("api_key_file", "log_dir", "state_file")
        if (value := getattr(config, key)) is not None and not value.is_absolute()
    }
    return config.model_copy(update=updates) if updates else config
