"""Talking to the cloud API: the sync handshake and gzip'd, column-oriented ingest batches.

Retries (tenacity) follow the issue: connect errors, timeouts, 5xx and 429 are retried with
exponential backoff 2, 4, 8, 16 s plus jitter (honouring `Retry-After`), 5 attempts in all;
a 4xx is never retried, because the same batch would fail again. Retrying an ingest is always
safe: the cloud is idempotent on (farm, source, transaction id). The sleep and the random
jitter are injectable so tests run the real retry path without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import gzip
import logging
import random
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import orjson
from pydantic import BaseModel, ValidationError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from pecus import __version__
from pecus.agent.source import Batch
from pecus.contract import AnimalResult, IngestResult, SyncStatus

log = logging.getLogger(__name__)

USER_AGENT = f"pecus-agent/{__version__}"
INGEST_SESSIONS = "/api/v1/ingest"
INGEST_TREATMENTS = "/api/v1/ingest/treatments"
INGEST_ANIMALS = "/api/v1/ingest/animals"
GZIP_LEVEL = 5  # most of level 9's ratio on JSON at a fraction of its time

Sleep = Callable[[float], Awaitable[None]]
M = TypeVar("M", bound=BaseModel)


class CloudError(Exception):
    """The cloud did not accept a request."""


class Rejected(CloudError):
    """A 4xx answer: retrying the same request would fail again."""

    def __init__(self, status: int, code: str, message: str, details: list[dict[str, Any]]) -> None:
        self.status, self.code, self.message, self.details = status, code, message, details
        super().__init__(f"the cloud refused the request ({status} {code}): {message}")

    @property
    def key_problem(self) -> bool:
        return self.status in (401, 403)

    def explain(self, ids: list[int] | None = None, id_name: str = "transaction id") -> list[str]:
        """The server's message and each problem row, naming the source's own id where known."""
        lines = [str(self)]
        for detail in self.details[:20]:
            row = detail.get("row")
            where = f"row {row}" if row is not None else "batch"
            if ids is not None and isinstance(row, int) and 0 <= row < len(ids):
                where += f" ({id_name} {ids[row]})"
            lines.append(f"  {where}, {detail.get('field') or '-'}: {detail.get('reason', '')}")
        if len(self.details) > 20:
            lines.append(f"  … and {len(self.details) - 20} more")
        return lines

    @classmethod
    def from_response(cls, response: httpx.Response) -> Rejected:
        try:
            error = orjson.loads(response.content)["error"]
            return cls(
                response.status_code,
                str(error.get("code", "")),
                str(error.get("message", "")),
                list(error.get("details") or []),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            text = response.text.strip().replace("\n", " ")[:300] or response.reason_phrase
            if response.is_redirect:
                text = f"redirected to {response.headers.get('location')}; check cloud_url"
            return cls(response.status_code, "http_error", text, [])


class Unreachable(CloudError):
    """Every attempt failed with a retryable error (network, timeout, 5xx, 429)."""


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    initial: float = 2.0  # then 4, 8, 16, …
    maximum: float = 300.0
    jitter: float = 1.0
    max_retry_after: float = 600.0  # a server asking for longer gets this; the next cycle comes anyway

    def backoff(self, retry_number: int, jitter: float) -> float:
        return min(self.maximum, self.initial * 2 ** (retry_number - 1)) + jitter


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return "no answer within the request timeout"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass
class Payload:
    """One encoded ingest request: the gzip'd JSON body, and the ids of the sessions it carries
    (`batch.ids`; the columns are in the body, not kept twice while it uploads)."""

    batch: Batch
    body: bytes
    json_bytes: int


def encode(
    batch: Batch,
    *,
    farm_id: str,
    source: str,
    agent: dict[str, str],
    cycle_id: str | None,
    max_body_bytes: int,
    rows: bool = False,
) -> Iterator[Payload]:
    """The batch as upload bodies, halved until each fits the server's limit on the decompressed
    and on the compressed size: column-oriented (`IngestBatch`), or with `rows` a list of row
    objects (`TreatmentBatch`, `AnimalBatch`; these have no `cycle_id` when it is None)."""
    document: dict[str, Any] = {"farm_id": farm_id, "source": source, "agent": agent}
    if cycle_id is not None:
        document["cycle_id"] = cycle_id
    if rows:
        document["rows"] = batch.rows()
    else:
        document["columns"] = batch.columns
    raw = orjson.dumps(document, option=orjson.OPT_UTC_Z)
    if len(raw) <= max_body_bytes or len(batch) == 1:
        body = gzip.compress(raw, GZIP_LEVEL, mtime=0)
        if len(body) <= max_body_bytes or len(batch) == 1:
            yield Payload(batch.ids_only(), body, len(raw))
            return
    for half in batch.split():
        yield from encode(
            half,
            farm_id=farm_id,
            source=source,
            agent=agent,
            cycle_id=cycle_id,
            max_body_bytes=max_body_bytes,
            rows=rows,
        )


@dataclass
class CloudClient:
    """The agent's side of the sync API. Use as `async with CloudClient(...) as cloud:`."""

    base_url: str
    api_key: str = field(repr=False)  # never in a log line
    farm_id: str
    timeout: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Sleep = asyncio.sleep
    jitter: Callable[[float, float], float] = random.uniform
    server_date: datetime | None = field(default=None, init=False)  # of the last answer: clock skew
    _client: httpx.AsyncClient | None = field(default=None, init=False, repr=False)

    async def __aenter__(self) -> CloudClient:
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(self.timeout),
            headers={"Authorization": f"Bearer {self.api_key}", "User-Agent": USER_AGENT},
            follow_redirects=False,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def health(self) -> None:
        """GET /healthz once, no retries: for `check`."""
        await self._request("GET", "/healthz", retry=False)

    async def sync_status(self, source: str, *, retry: bool = True) -> SyncStatus:
        params = {"farm_id": self.farm_id, "source": source}
        response = await self._request("GET", "/api/v1/sync/status", retry=retry, params=params)
        return self._parse(response, SyncStatus)

    async def ingest(self, payload: Payload, path: str = INGEST_SESSIONS) -> IngestResult:
        """Upload a batch of a stream (sessions, or treatments with INGEST_TREATMENTS)."""
        return self._parse(await self._post(path, payload), IngestResult)

    async def ingest_animals(self, payload: Payload) -> AnimalResult:
        return self._parse(await self._post(INGEST_ANIMALS, payload), AnimalResult)

    async def _post(self, path: str, payload: Payload) -> httpx.Response:
        headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
        return await self._request("POST", path, content=payload.body, headers=headers)

    def _parse(self, response: httpx.Response, model: type[M]) -> M:
        try:
            return model.model_validate_json(response.content)
        except ValidationError:
            raise Rejected(
                response.status_code,
                "unexpected_answer",
                f"not a {model.__name__}: {response.text[:200]}",
                [],
            ) from None

    async def _request(self, method: str, path: str, *, retry: bool = True, **kwargs: Any) -> httpx.Response:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retry.attempts if retry else 1),
            wait=self._wait,
            retry=retry_if_exception_type(_Retryable),
            sleep=self.sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._once(method, path, **kwargs)
        except _Retryable as exc:
            attempts = self.retry.attempts if retry else 1
            raise Unreachable(f"{method} {path} failed {attempts} time(s); last: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        assert self._client is not None, "use CloudClient as an async context manager"
        try:
            # httpx's timeout is per read/write; this bounds the whole request (a trickling answer).
            async with asyncio.timeout(self.timeout):
                response = await self._client.request(method, path, **kwargs)
        except (httpx.TransportError, TimeoutError) as exc:
            raise _Retryable(_describe(exc)) from exc
        if date := response.headers.get("Date"):
            with contextlib.suppress(TypeError, ValueError):
                self.server_date = email.utils.parsedate_to_datetime(date)
        if response.status_code >= 500 or response.status_code == 429:
            raise _Retryable(
                f"{response.status_code} {response.reason_phrase}",
                _retry_after(response.headers.get("Retry-After")),
            )
        if response.status_code >= 300:
            raise Rejected.from_response(response)
        return response

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            return min(exc.retry_after, self.retry.max_retry_after)
        return self.retry.backoff(state.attempt_number, self.jitter(0, self.retry.jitter))

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.upcoming_sleep
        log.warning(
            "cloud request failed (%s), attempt %d of %d; retrying in %.1f s",
            exc,
            state.attempt_number,
            self.retry.attempts,
            wait,
        )
