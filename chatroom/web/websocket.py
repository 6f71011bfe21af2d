"""The WebSocket transport: one text frame in is one protocol line for the codec, one line out one frame.

It keeps the transport contract of chatroom.net.transport, so the server
serves a browser exactly as it serves a terminal: same codec, same limits,
same logging. wsproto does the framing (masking, fragments, control frames,
UTF-8); this module adds what the chat protocol needs on top:

- in: a finished text message becomes `line + b"\\n"`; fragments are joined,
  bounded by the line limit (past it, a line of its first max_line + 1 bytes
  goes to the codec, which refuses it as it refuses any long line, and the
  close code is 1009); a line break inside a frame closes with 1007, a binary frame with
  1003, a protocol error (an unmasked frame) with wsproto's code (1002);
- out: the codec's bytes are cut at each "\\n" into one text frame per line
  (a partial line waits for its end); pings are answered;
- closing: `shutdown_write` sends a close frame; the peer's close is answered
  and is end of stream (b"") for the server.

Output the kernel did not take waits here framed (`_wire`). While any does,
`send` takes nothing (BlockingIOError), and the last byte of the send that
left it is reported as not taken, so the connection keeps something queued
and watches for writability; that byte is skipped when it comes again
(`_owed`). So the connection's output cap bounds this buffer too.
"""

from __future__ import annotations

import logging
import ssl

from wsproto import WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import BytesMessage, CloseConnection, Ping, TextMessage

from chatroom.net.tls import TLSTransport
from chatroom.net.transport import PlainTransport

log = logging.getLogger("chatroom.server")

NORMAL = 1000
UNSUPPORTED_DATA = 1003  # a binary frame
INVALID_DATA = 1007  # a text frame holding a line break
MESSAGE_TOO_BIG = 1009  # a message longer than the line limit


class WebSocketTransport:
    """A chat connection over WebSocket, on a plain or TLS socket whose upgrade is done."""

    buffers_input = True

    def __init__(self, inner: PlainTransport | TLSTransport, ws: WSConnection, max_line: int) -> None:
        self.inner = inner
        self.ws = ws
        self.max_line = max_line
        self.encrypted = isinstance(inner, ssl.SSLSocket)  # wss://: a password may travel over it
        self._in = bytearray()  # lines for the codec
        self._message = bytearray()  # a text message still arriving in fragments
        self._discarding = False  # past the line limit: the rest of that message is ignored
        self._close_code = NORMAL
        self._eof = False  # the stream has ended (close frame, error, or TCP end)
        self._eof_told = False
        self._wire = bytearray()  # framed output the kernel has not taken yet
        self._partial = bytearray()  # outgoing bytes after the last "\n"
        self._owed = 0  # bytes at the start of the next send that were framed already

    # -- what the server calls on any transport --------------------------------------------

    def fileno(self) -> int:
        return self.inner.fileno()

    def setblocking(self, flag: bool) -> None:
        self.inner.setblocking(flag)

    def setsockopt(self, level: int, option: int, value: int) -> None:
        self.inner.setsockopt(level, option, value)

    def address(self) -> tuple[str, int] | str:
        return self.inner.address()

    def pending(self) -> int:
        """Lines held here, bytes held by TLS, and an end of stream not yet reported (select() sees none)."""
        return len(self._in) + self.inner.pending() + (1 if self._eof and not self._eof_told else 0)

    def close(self) -> None:
        self.inner.close()

    # -- reading ------------------------------------------------------------------------------

    def recv(self, bufsize: int, /) -> bytes:
        while not self._in:
            if self._eof:
                self._eof_told = True
                return b""
            data = self.inner.recv(bufsize)  # BlockingIOError and OSError go to the caller
            self._take(data)
        if len(self._in) <= bufsize:
            lines = bytes(self._in)
            self._in.clear()
        else:
            lines = bytes(self._in[:bufsize])
            del self._in[:bufsize]
        return lines

    def _take(self, data: bytes) -> None:
        if not data:
            self._eof = True
            return
        if self.ws.state is ConnectionState.CLOSED:
            return  # after the close handshake: nothing more means anything
        self.ws.receive_data(data)
        for event in self.ws.events():
            if isinstance(event, TextMessage):
                self._text(event.data, event.message_finished)
            elif isinstance(event, BytesMessage):
                self._fail(UNSUPPORTED_DATA, "binary frame")
            elif isinstance(event, Ping):
                # One answer at a time (a peer that does not read gets no more), and none once closing.
                if not self._wire and self.ws.state is ConnectionState.OPEN:
                    self._queue(self.ws.send(event.response()))
            elif isinstance(event, CloseConnection):
                self._closed_by_peer(event)
            if self._eof:
                return

    def _text(self, text: str, finished: bool) -> None:
        if self._discarding:
            if finished:
                self._discarding = False
            return
        if "\n" in text or "\r" in text:
            self._fail(INVALID_DATA, "text frame holding a line break")
            return
        message = self._message
        message += text.encode()
        if len(message) > self.max_line:
            # The codec refuses it as any long line (413, or 400 before registration), logs it with
            # the limit, and closes; the close frame then says 1009.
            self._in += message[: self.max_line + 1]
            self._in += b"\n"  # a whole line one byte too long: what the framer refuses
            message.clear()
            self._close_code = MESSAGE_TOO_BIG
            self._discarding = not finished
            return
        if finished:
            self._in += message
            self._in += b"\n"
            message.clear()

    def _closed_by_peer(self, event: CloseConnection) -> None:
        state = self.ws.state
        if state is ConnectionState.REMOTE_CLOSING:  # the peer closes first: answer, then it is over
            self._queue(self.ws.send(event.response()))
        elif state is ConnectionState.OPEN:  # wsproto's report of a protocol error (not a frame)
            self._fail(event.code, event.reason or "protocol error")
            return
        self._eof = True

    def _fail(self, code: int, reason: str) -> None:
        """The peer broke the protocol: a close frame with `code`, then end of stream for the server."""
        log.info("Closing web socket from %s: %s (close code %d)", self.address(), reason, code)
        if self.ws.state is ConnectionState.OPEN:
            self._queue(self.ws.send(CloseConnection(code, reason[:100])))
        self._eof = True

    def _queue(self, frame: bytes) -> None:
        """A control frame: written now if the kernel takes it; a peer gone shows at the next read."""
        self._wire += frame
        try:
            self._flush()
        except OSError:
            self._eof = True

    # -- writing ------------------------------------------------------------------------------

    def send(self, data: bytes | bytearray | memoryview, /) -> int:
        if self.ws.state is not ConnectionState.OPEN:
            # Closing (the peer's close frame came, or ours went): nothing more may be framed, and
            # the end of stream is reported by recv; what is still delivered meanwhile is dropped.
            return len(data)
        if self._wire:
            self._flush()
            if self._wire:
                raise BlockingIOError
        if type(data) is bytes and not self._owed and not self._partial and data.endswith(b"\n"):
            return self._send_lines(data)  # most sends: whole lines, often the same bytes for many users
        view = memoryview(data).cast("B")
        skip, self._owed = min(self._owed, len(view)), 0
        body = view[skip:]
        end = bytes(body).rfind(b"\n") + 1 if len(body) else 0
        if end:
            self._partial += body[:end]
            for line in self._partial.split(b"\n")[:-1]:
                self._wire += self.ws.send(TextMessage(line.decode("utf-8", "replace")))
            self._partial.clear()
        self._partial += body[end:]
        if self._wire:
            self._flush()  # OSError: the peer is gone, as for any transport
        if self._wire and len(view):
            self._owed = 1
            return len(view) - 1
        return len(view)

    def _send_lines(self, data: bytes) -> int:
        """`data` is whole lines: frame them (once for every user it goes to), send what the kernel takes."""
        if data is _LastFramed.payload:
            frames = _LastFramed.frames
        else:
            frames = b"".join(
                self.ws.send(TextMessage(line.decode("utf-8", "replace"))) for line in data.split(b"\n")[:-1]
            )
            _LastFramed.payload, _LastFramed.frames = data, frames  # unmasked: the same for all
        try:
            sent = self.inner.send(frames)
        except (BlockingIOError, InterruptedError):
            sent = 0
        if sent == len(frames):
            return len(data)
        self._wire += memoryview(frames)[sent:]
        self._owed = 1
        return len(data) - 1

    def _flush(self) -> None:
        try:
            sent = self.inner.send(self._wire)
        except (BlockingIOError, InterruptedError):
            return
        del self._wire[:sent]

    def shutdown_write(self) -> None:
        """A close frame (1000, or 1009 after an over-long message); the peer's answer ends the stream."""
        if self.ws.state is ConnectionState.OPEN:
            self._wire += self.ws.send(CloseConnection(self._close_code))
        elif self.ws.state is ConnectionState.REMOTE_CLOSING:
            self._wire += self.ws.send(CloseConnection(self._close_code))
            self._eof = True
        if self._wire:
            self._flush()

    def take_early(self, data: bytes) -> None:
        """Frames that came with the upgrade request, before the 101 (pending() then says so)."""
        if data:
            self._take(data)


class _LastFramed:
    """The last whole-lines payload framed, and its frames.

    The hub hands the same bytes object to every recipient of a batch (one
    encoding per wire), and a server's frames do not depend on the
    connection (unmasked, no extension), so a fan-out to N browsers frames
    each batch once, not N times. Holding the payload keeps its identity
    from being reused by another object.
    """

    payload: bytes | None = None
    frames: bytes = b""
