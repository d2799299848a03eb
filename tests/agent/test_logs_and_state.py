"""Log files never hold a secret; the state file survives crashes and corruption."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path

import pytest

from pecus.agent.logs import BACKUPS, LOG_FILE, MAX_BYTES, setup_logging
from pecus.agent.state import KEEP_CYCLES, CycleRecord, Resync, SourceRecord, StateStore

KEY = "pk_live_9f8e7d6c5b4a"
PASSWORD = "s3cret-db-pass"


@pytest.fixture
def clean_root() -> Iterator[None]:
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    yield
    for handler in [h for h in root.handlers if h not in before]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)


def test_the_key_and_passwords_never_reach_the_log(
    tmp_path: Path, clean_root: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert setup_logging(tmp_path / "logs", "DEBUG", [KEY, PASSWORD, ""]) is None
    log = logging.getLogger("pecus.agent.test")
    log.info("request with Authorization: Bearer %s", KEY)
    log.warning("connecting to mssql+pymssql://reader:%s@localhost/DDM", PASSWORD)
    try:
        raise RuntimeError(f"driver said: login failed for password {PASSWORD}")
    except RuntimeError:
        log.exception("source failed")
    log.info("another token: Bearer abc.def-ghi")
    for handler in logging.getLogger().handlers:
        handler.flush()
    written = (tmp_path / "logs" / LOG_FILE).read_text()
    shown = capsys.readouterr().out
    for text in (written, shown):
        assert KEY not in text and PASSWORD not in text and "abc.def-ghi" not in text
        assert "Bearer ***" in text and "reader:***@localhost" in text
        assert "Traceback" in text and "login failed for password ***" in text


def test_files_rotate_by_size_and_setup_can_run_again(tmp_path: Path, clean_root: None) -> None:
    setup_logging(tmp_path, "INFO", [])
    setup_logging(tmp_path, "WARNING", [])
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_pecus_agent_handler", False)]
    assert len(ours) == 2  # a console and a file, not two of each
    (file,) = [h for h in ours if isinstance(h, RotatingFileHandler)]
    assert (file.maxBytes, file.backupCount) == (MAX_BYTES, BACKUPS) == (5 * 1024 * 1024, 10)
    assert logging.getLogger("httpx").level == logging.WARNING


def test_an_unwritable_log_folder_is_reported_and_the_console_still_logs(
    tmp_path: Path, clean_root: None, capsys: pytest.CaptureFixture[str]
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the log folder should be")
    problem = setup_logging(blocked, "INFO", [])
    assert problem is not None and problem.startswith(f"cannot write logs in {blocked}")
    logging.getLogger("pecus.agent").info("still here")
    assert "still here" in capsys.readouterr().out


def cycle(n: int, result: str = "up_to_date") -> CycleRecord:
    now = datetime.now(UTC)
    return CycleRecord(
        cycle_id=f"c{n}", reason="test", started_at=now, finished_at=now,
        sources=[SourceRecord(source="delpro", result=result, sent=n)],  # type: ignore[arg-type]
    )  # fmt: skip


def test_state_keeps_the_last_cycles_and_survives_two_writers(tmp_path: Path) -> None:
    path = tmp_path / "state" / "agent-state.json"
    service, technician = StateStore(path), StateStore(path)
    service.record(cycle(1))
    technician.update(
        lambda s: s.resync.__setitem__("delpro", Resync(from_id=5, cloud_watermark=9, cursor=5))
    )
    service.record(cycle(2, "cloud_unreachable"))
    state = technician.read()
    assert [c.cycle_id for c in state.cycles] == ["c1", "c2"]
    assert state.resync["delpro"].from_id == 5  # the service's write kept the technician's resync
    assert state.cycles[0].ok and not state.cycles[1].ok
    for n in range(3, KEEP_CYCLES + 10):
        service.record(cycle(n))
    assert len(service.read().cycles) == KEEP_CYCLES
    assert not list(path.parent.glob(".*.tmp"))


def test_an_unreadable_state_file_is_set_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "agent-state.json"
    path.write_text('{"cycles": [ truncated by a power cut')
    store = StateStore(path)
    assert store.read().cycles == []
    assert (tmp_path / "agent-state.json.unreadable").exists()
    assert "unreadable" in caplog.text
    store.record(cycle(1))
    assert [c.cycle_id for c in store.read().cycles] == ["c1"]
