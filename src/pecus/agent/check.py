"""`pecus-agent check`: what a technician runs over remote desktop to see if the agent can work.

Each finding is one plain sentence, good or bad; the command fails if any is bad.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from pecus.agent.config import AgentConfig, ConfigError, load_config
from pecus.agent.cycle import Syncer
from pecus.agent.localtime import LocalTimeConverter
from pecus.agent.source import SessionSource, SourceError
from pecus.agent.state import StateStore
from pecus.agent.treatments import treatment_reader
from pecus.agent.uploader import CloudClient, CloudError, Rejected
from pecus.contract import MilkingSession

SKEW_WARN = timedelta(minutes=1)
SKEW_FAIL = timedelta(minutes=5)


@dataclass
class Finding:
    level: Literal["ok", "warn", "fail"]
    text: str


async def run_checks(
    config_path: Path | None, environ: Mapping[str, str], *, offline: bool = False
) -> tuple[AgentConfig | None, list[Finding]]:
    findings: list[Finding] = []
    try:
        config = load_config(config_path, environ)
    except ConfigError as exc:
        where = f" ({exc.origin})" if exc.origin else ""
        findings.append(Finding("fail", f"configuration{where}: " + "; ".join(exc.problems)))
        return None, findings
    findings.append(
        Finding("ok", f"configuration is valid: farm {config.farm_id}, sources {config.source_names()}")
    )
    try:
        key = config.key()
        findings.append(Finding("ok", "the API key is set"))
    except ConfigError as exc:
        findings.append(Finding("fail", "; ".join(exc.problems)))
        key = None
    findings.append(_writable(config.resolved_log_dir(), "log folder"))
    findings.append(_writable(config.resolved_state_file().parent, "state folder"))

    local_max: dict[str, int | None] = {}
    treatments_max: dict[str, int | None] = {}  # only the sources that have treatments
    for source_config in config.sources:
        found, local_max[source_config.name] = await asyncio.to_thread(
            _check_source, config, source_config.name
        )
        findings += found
        found, has, highest = await asyncio.to_thread(_check_treatments, config, source_config.name)
        findings += found
        if has:
            treatments_max[source_config.name] = highest

    if offline:
        findings.append(Finding("ok", "offline: the cloud was not contacted"))
        return config, findings
    if key is None:
        return config, findings
    syncer = Syncer(config, StateStore(config.resolved_state_file()))
    async with syncer.cloud(attempts=1) as cloud:
        findings += await _check_cloud(cloud, config, local_max, treatments_max)
    return config, findings


def _writable(folder: Path, what: str) -> Finding:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return Finding("fail", f"the {what} {folder} is not writable ({exc.strerror})")
    return Finding("ok", f"the {what} {folder} is writable")


def _check_source(config: AgentConfig, name: str) -> tuple[list[Finding], int | None]:
    source = SessionSource(config.source(name), LocalTimeConverter(config.zone))
    display = f"source {name} ({source.config.display_url})"
    try:
        highest = source.max_id()
        if highest is None:
            return [Finding("warn", f"{display}: reachable, but it has no milkings yet")], None
        batch = source.read_after(highest - 1, 1)
    except SourceError as exc:
        return [Finding("fail", f"{display}: {exc}")], None
    finally:
        source.close()
    findings = [
        Finding("ok", f"{display}: reachable, the query returns the expected columns, highest id {highest}")
    ]
    for row in batch.rows():
        try:
            session = MilkingSession.model_validate(row)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            findings.append(Finding("fail", f"{display}: the newest milking would be refused: {problems}"))
            continue
        ahead = session.started_at - datetime.now(UTC)
        if ahead > timedelta(minutes=10):
            findings.append(
                Finding(
                    "warn",
                    f"{display}: the newest milking starts {ahead} in the future: is time_zone"
                    f" ({config.time_zone}) the farm's zone?",
                )
            )
    return findings, highest


def _check_treatments(config: AgentConfig, name: str) -> tuple[list[Finding], bool, int | None]:
    """Findings on the source's treatments, whether it has them, and their highest id."""
    source_config = config.source(name)
    if source_config.treatments == "off":
        return [], False, None
    display = f"source {name} treatments"
    try:
        reader = treatment_reader(source_config, LocalTimeConverter(config.zone))
        if reader is None:
            return [Finding("ok", f"{display}: none (the source has no treatment tables)")], False, None
        try:
            highest = reader.max_id()
            if highest is not None:
                reader.read_after(highest - 1, 1)
        finally:
            reader.close()
    except SourceError as exc:
        return [Finding("fail", f"{display}: {exc}")], False, None
    found = "no treatments yet" if highest is None else f"highest id {highest}"
    return [Finding("ok", f"{display}: readable, {found}")], True, highest


def _watermark_finding(what: str, watermark: int, highest: int | None) -> Finding:
    local = highest or 0
    if local < watermark:
        return Finding(
            "fail",
            f"{what}: the cloud has ids up to {watermark} but the local database only"
            f" up to {highest}: restored or replaced? see `pecus-agent resync`",
        )
    behind = "up to date" if local == watermark else f"{local - watermark} ids to upload"
    return Finding("ok", f"{what}: cloud watermark {watermark}, local highest id {highest} ({behind})")


async def _check_cloud(
    cloud: CloudClient,
    config: AgentConfig,
    local_max: dict[str, int | None],
    treatments_max: dict[str, int | None],
) -> list[Finding]:
    findings: list[Finding] = []
    try:
        await cloud.health()
    except CloudError as exc:
        return [Finding("fail", f"the cloud at {config.cloud_url} is not reachable: {exc}")]
    findings.append(Finding("ok", f"the cloud at {config.cloud_url} is reachable"))
    if cloud.server_date is not None:
        skew = datetime.now(UTC) - cloud.server_date
        text = f"this PC's clock differs from the cloud's by {abs(skew.total_seconds()):.0f} s"
        level: Literal["ok", "warn", "fail"] = (
            "fail" if abs(skew) > SKEW_FAIL else "warn" if abs(skew) > SKEW_WARN else "ok"
        )
        findings.append(
            Finding(level, text + ("" if level == "ok" else ": set the clock (or enable time sync)"))
        )
    for name, highest in local_max.items():
        try:
            status = await cloud.sync_status(name, retry=False)
        except Rejected as exc:
            hint = ": check farm_id and the API key" if exc.key_problem else ""
            findings.append(Finding("fail", f"source {name}: {exc}{hint}"))
            if exc.key_problem:
                break
            continue
        except CloudError as exc:
            findings.append(Finding("fail", f"source {name}: {exc}"))
            continue
        finding = _watermark_finding(f"source {name}", status.watermark, highest)
        if finding.level == "ok":
            finding.text = finding.text.replace(": cloud", ": the key is accepted; cloud", 1)
        findings.append(finding)
        if name not in treatments_max:
            continue
        if status.treatments_watermark is None:
            findings.append(
                Finding("warn", f"source {name} treatments: the cloud is too old to take them; not synced")
            )
        else:
            findings.append(
                _watermark_finding(
                    f"source {name} treatments", status.treatments_watermark, treatments_max[name]
                )
            )
    return findings
