"""One JSON error shape for every failure the API reports:

    {"error": {"code": "...", "message": "...",
               "details": [{"row": 3, "field": "yield_kg", "reason": "..."}]}}

`code` is stable (clients branch on it), `message` is for people, `details` lists what was wrong
where (`row` is the 0-based index in the batch, null for fields outside the rows)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import orjson
import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

MAX_DETAILS = 100
"""A batch of 5,000 rows all missing a column would list 5,000 errors; the first 100 say enough."""


class ErrorDetail(BaseModel):
    row: int | None = None
    field: str | None = None
    reason: str


class ErrorInfo(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail] = []


class ErrorBody(BaseModel):
    error: ErrorInfo


class ApiError(Exception):
    """Raise anywhere in a request to answer with the stable error shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Sequence[ErrorDetail] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = list(details)
        self.headers = headers


def error_response(
    status: int,
    code: str,
    message: str,
    details: Sequence[ErrorDetail] = (),
    headers: dict[str, str] | None = None,
) -> Response:
    shown = list(details)[:MAX_DETAILS]
    if len(details) > len(shown):
        message = f"{message} (showing the first {len(shown)} of {len(details)} problems)"
    body = ErrorBody(error=ErrorInfo(code=code, message=message, details=shown))
    return Response(orjson.dumps(body.model_dump()), status, headers, media_type="application/json")


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    503: "unavailable",
}


def _loc_field(loc: Sequence[Any]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


async def _api_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


async def _http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    return error_response(exc.status_code, code, str(exc.detail), headers=dict(exc.headers or {}))


async def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    details = [ErrorDetail(field=_loc_field(e["loc"]), reason=e["msg"]) for e in exc.errors()]
    return error_response(422, "invalid_request", "the request parameters are not valid", details)


RETRY_AFTER_S = 5


async def _database_error(request: Request, exc: Exception) -> Response:
    # Connection lost, no connection free in time, deadlock, serialisation failure: all transient,
    # and nothing was committed, so the client retries the same request (agents honour Retry-After).
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    return error_response(
        503,
        "database_unavailable",
        "the database is unavailable or busy; nothing was stored, retry later",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "internal error; it has been logged")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(psycopg.OperationalError, _database_error)
    app.add_exception_handler(Exception, _unexpected)
