"""A sans-I/O HTTP/1.1 request-head parser with bounds, and the responses the gateway sends.

The gateway needs only request heads (GET and HEAD carry no body; an upgrade
hands the connection to WebSocket), so this is a head parser, not an HTTP
library: bytes in, one `Request` or `BadRequest` out. Every bound is in
chatroom.limits; a head that passes one is refused before it is buffered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from chatroom.limits import MAX_HTTP_HEAD_BYTES, MAX_HTTP_HEADERS, MAX_HTTP_LINE_BYTES

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VERSION = re.compile(rb"HTTP/1\.[01]")
_FIELD_VALUE = re.compile(rb"[\t\x20-\x7e\x80-\xff]*")
_TARGET = re.compile(rb"/[\x21-\x7e]*")

REASONS = {
    101: "Switching Protocols",
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    426: "Upgrade Required",
    503: "Service Unavailable",
}

# On every response, the page's and the errors' alike (docs/SECURITY.md, "Web gateway").
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
)


class BadRequest(Exception):
    """The peer sent something that is not an acceptable request head; the message says what."""


@dataclass(frozen=True)
class Request:
    """One request head. Header names are lower-cased; `head` is the raw bytes (wsproto reads them too)."""

    method: str
    target: str
    version: str
    headers: tuple[tuple[str, str], ...]
    head: bytes

    @property
    def path(self) -> str:
        """The target without its query string."""
        return self.target.split("?", 1)[0]

    def header(self, name: str) -> str | None:
        """The header's value; repeated headers joined with ', ' (RFC 9110 5.3); None if absent."""
        values = [value for key, value in self.headers if key == name]
        return ", ".join(values) if values else None

    def has_token(self, name: str, token: str) -> bool:
        """Whether the comma-separated header `name` lists `token` (case-insensitive): Connection: Upgrade."""
        value = self.header(name)
        return value is not None and token in (part.strip().lower() for part in value.split(","))


class RequestParser:
    """Fed bytes as they arrive; `feed` returns the request once its head is complete.

    Bounds: the head (MAX_HTTP_HEAD_BYTES), any one line (MAX_HTTP_LINE_BYTES),
    the number of headers (MAX_HTTP_HEADERS). `started` says whether anything
    but blank lines came yet (an idle connection has not started a request).
    `rest` holds the bytes after the head.
    """

    __slots__ = ("max_head", "max_line", "max_headers", "_buffer", "rest")

    def __init__(
        self,
        max_head: int = MAX_HTTP_HEAD_BYTES,
        max_line: int = MAX_HTTP_LINE_BYTES,
        max_headers: int = MAX_HTTP_HEADERS,
    ) -> None:
        self.max_head = max_head
        self.max_line = max_line
        self.max_headers = max_headers
        self._buffer = bytearray()
        self.rest = b""

    @property
    def started(self) -> bool:
        return bool(self._buffer)

    def feed(self, data: bytes) -> Request | None:
        """Raises BadRequest for a head that breaks the syntax or a bound."""
        buffer = self._buffer
        if not buffer:
            data = data.lstrip(b"\r\n")  # RFC 9112 2.2: blank lines before a request are ignored
        buffer += data
        end = _head_end(buffer)
        if end is None:
            if len(buffer) > self.max_head:
                raise BadRequest("request head too large")
            if len(buffer) - (buffer.rfind(b"\n") + 1) > self.max_line + 1:  # +1: a CR before its LF
                raise BadRequest("request line or header too long")
            return None
        if end > self.max_head:
            raise BadRequest("request head too large")
        head = bytes(buffer[:end])
        self.rest = bytes(buffer[end:])
        buffer.clear()
        return self._parse(head)

    def _parse(self, head: bytes) -> Request:
        lines = [line.removesuffix(b"\r") for line in head.split(b"\n")]
        while lines and not lines[-1]:
            lines.pop()
        if any(len(line) > self.max_line for line in lines):
            raise BadRequest("request line or header too long")
        if len(lines) - 1 > self.max_headers:
            raise BadRequest(f"more than {self.max_headers} headers")
        parts = lines[0].split(b" ")
        if len(parts) != 3:
            raise BadRequest("malformed request line")
        method, target, version = parts
        if not _TOKEN.fullmatch(method) or not _TARGET.fullmatch(target) or not _VERSION.fullmatch(version):
            raise BadRequest("malformed request line")
        headers = tuple(_header(line) for line in lines[1:])
        request = Request(method.decode(), target.decode(), version.decode(), headers, head)
        if request.version == "HTTP/1.1" and sum(name == "host" for name, _ in headers) != 1:
            raise BadRequest("an HTTP/1.1 request needs exactly one Host header")
        return request


def _head_end(buffer: bytearray) -> int | None:
    """Where the head ends (after its blank line), for CRLF and bare-LF line ends alike."""
    crlf = buffer.find(b"\r\n\r\n")
    lf = buffer.find(b"\n\n")
    ends = [at + 4 for at in (crlf,) if at >= 0] + [at + 2 for at in (lf,) if at >= 0]
    return min(ends) if ends else None


def _header(line: bytes) -> tuple[str, str]:
    name, colon, value = line.partition(b":")
    if not colon or not _TOKEN.fullmatch(name):  # also refuses obs-fold and "Name :" (RFC 9112 5.1)
        raise BadRequest("malformed header line")
    value = value.strip(b" \t")
    if not _FIELD_VALUE.fullmatch(value):
        raise BadRequest("control character in a header value")
    return name.decode().lower(), value.decode("latin-1")


def response(
    status: int,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    *,
    head_only: bool = False,
    length: bool = True,
) -> bytes:
    """A whole response; `head_only` (HEAD) keeps Content-Length but sends no body."""
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    lines += [f"{name}: {value}" for name, value in SECURITY_HEADERS]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only else head + body


def error_response(status: int, sentence: str, headers: Iterable[tuple[str, str]] = ()) -> bytes:
    """A short plain-text error; it closes the connection unless `headers` say otherwise."""
    headers = list(headers)
    if not any(name.lower() == "connection" for name, _ in headers):
        headers.append(("Connection", "close"))
    body = f"{status} {REASONS.get(status, 'Error')}: {sentence}\n".encode()
    return response(
        status,
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Cache-Control", "no-cache"),
            *headers,
        ],
        body,
    )
