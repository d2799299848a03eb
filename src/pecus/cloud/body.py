"""Request bodies with hard limits: on the bytes received and on the bytes they decompress to.

A gzip body is inflated incrementally with `zlib.decompressobj(...).decompress(data, max_length)`,
so a "gzip bomb" (a few kB that inflate to gigabytes) is refused as soon as its output passes the
limit: at most `max_output + 1` bytes are ever produced, never the whole expansion.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterable


class BodyTooLarge(Exception):
    """The body passes a limit; `what` says which ("compressed" or "decompressed")."""

    def __init__(self, what: str, limit: int) -> None:
        super().__init__(f"the {what} request body is larger than {limit} bytes")
        self.what = what
        self.limit = limit


class BadEncoding(Exception):
    """The body is not valid for its Content-Encoding (truncated or corrupt gzip)."""


class UnsupportedEncoding(Exception):
    pass


_GZIP = 16 + zlib.MAX_WBITS  # gzip header and trailer, checked by zlib


class GzipInflater:
    """Inflates a gzip stream (one or more members, RFC 1952) chunk by chunk, producing at most
    `max_output` bytes."""

    def __init__(self, max_output: int) -> None:
        self.max_output = max_output
        self._out: list[bytes] = []
        self._size = 0
        self._d = zlib.decompressobj(_GZIP)
        self._seen_input = False

    def feed(self, data: bytes) -> None:
        while data:
            self._seen_input = True
            try:
                # One byte more than allowed tells "exactly at the limit" from "over it".
                chunk = self._d.decompress(data, self.max_output - self._size + 1)
            except zlib.error as exc:
                raise BadEncoding(f"the body is not valid gzip: {exc}") from exc
            self._size += len(chunk)
            if self._size > self.max_output:
                raise BodyTooLarge("decompressed", self.max_output)
            self._out.append(chunk)
            if self._d.eof:
                # Another gzip member may follow (concatenated gzip files are one valid stream).
                data = self._d.unused_data
                if data:
                    self._d = zlib.decompressobj(_GZIP)
            else:
                data = self._d.unconsumed_tail

    def finish(self) -> bytes:
        if not self._seen_input:
            raise BadEncoding("the body is empty but declares Content-Encoding: gzip")
        if not self._d.eof:
            raise BadEncoding("the gzip body is truncated (no end of stream)")
        return b"".join(self._out)


async def read_body(
    chunks: AsyncIterable[bytes],
    content_encoding: str | None,
    *,
    max_body_bytes: int,
    max_compressed_bytes: int,
) -> bytes:
    """Read a request body, inflating gzip, within both limits. Raises BodyTooLarge,
    BadEncoding or UnsupportedEncoding."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        parts: list[bytes] = []
        size = 0
        async for chunk in chunks:
            size += len(chunk)
            if size > max_body_bytes:
                raise BodyTooLarge("decompressed", max_body_bytes)
            parts.append(chunk)
        return b"".join(parts)
    if encoding not in ("gzip", "x-gzip"):
        raise UnsupportedEncoding(f"Content-Encoding {content_encoding!r} is not supported (use gzip)")
    inflater = GzipInflater(max_body_bytes)
    received = 0
    async for chunk in chunks:
        received += len(chunk)
        if received > max_compressed_bytes:
            raise BodyTooLarge("compressed", max_compressed_bytes)
        inflater.feed(chunk)
    return inflater.finish()
