"""Logging: a size-capped rotating file in the log folder plus the console, never a secret.

Every line passes through a formatter that blanks the API key, database passwords and any
`Bearer …` token, including inside tracebacks, so a log file can be mailed to support as is.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
from collections.abc import Iterable
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pecus.agent.config import AgentConfig

LOG_FILE = "agent.log"
MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 10
FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_BEARER = re.compile(r"(Bearer\s+)\S+", re.IGNORECASE)
_OURS = "_pecus_agent_handler"


class RedactingFormatter(logging.Formatter):
    def __init__(self, secrets: Iterable[str], fmt: str | None = FORMAT) -> None:
        super().__init__(fmt)
        # Longest first, so a secret that contains another is blanked whole.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return _BEARER.sub(r"\1***", text)


def setup_logging(
    log_dir: Path | None,
    level: str,
    secrets: Iterable[str],
    console: logging.Handler | None = None,
) -> str | None:
    """Install the file and console handlers on the root logger (again on each call, replacing
    the previous ones). Returns a problem to show when the log folder cannot be written; the
    console still logs then."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(handler)
        handler.close()
    secrets = list(secrets)
    handlers: list[logging.Handler] = []
    if console is None and sys.stdout is not None:  # a Windows service has no stdout
        console = logging.StreamHandler(sys.stdout)
    if console is not None:
        console.setFormatter(RedactingFormatter(secrets, None if _is_rich(console) else FORMAT))
        handlers.append(console)
    problem = None
    if log_dir is not None:
        try:
            log_dir.mkdir(parents=True, exist_ok=True)
            file = RotatingFileHandler(
                log_dir / LOG_FILE, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
            )
        except OSError as exc:
            problem = f"cannot write logs in {log_dir} ({exc.strerror}); set log_dir in the config"
        else:
            file.setFormatter(RedactingFormatter(secrets))
            handlers.append(file)
    for handler in handlers:
        setattr(handler, _OURS, True)
        root.addHandler(handler)
    root.setLevel(level)
    # One line per HTTP request would drown the log on a backlog; the agent logs what matters.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    return problem


def _is_rich(handler: logging.Handler) -> bool:
    return type(handler).__name__ == "RichHandler"


def setup_agent_logging(
    config: AgentConfig, *, verbose: bool = False, console: logging.Handler | None = None
) -> None:
    """`setup_logging` for the agent's configuration: its log folder and level, and every secret
    it holds (API key, database passwords) blanked."""
    from pecus.agent.config import ConfigError

    secrets = [s.sqlalchemy_url.password or "" for s in config.sources]
    with contextlib.suppress(ConfigError):  # an unreadable key file is reported where it is needed
        secrets.append(config.key())
    level = "DEBUG" if verbose else config.log_level
    if problem := setup_logging(config.resolved_log_dir(), level, secrets, console):
        logging.getLogger("pecus.agent").warning(problem)
