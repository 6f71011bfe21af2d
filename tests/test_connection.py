"""The server in-process over real sockets, with a clock the test moves by hand.

These check mechanisms that are hard to reach from outside: what the kernel's
buffers absorb decides whether a queue or a deadline is ever exercised, and a
fault inside the server can only be injected from inside.
"""

from __future__ import annotations

import errno
import functools
import logging
import select
import socket
import time
from collections.abc import Callable, Iterator

import pytest

from chatroom.codecs.chat import ChatCodec
from chatroom.limits import LINGER_TIMEOUT_S, REGISTRATION_TIMEOUT_S, SENDQ_MAX_BYTES
from chatroom.net.connection import Connection, Phase
from chatroom.net.loop import EventLoop
from chatroom.net.transport import PlainTransport
from chatroom.protocol import LINE_TOO_LONG
from chatroom.server.app import Server, ServerConfig

REAL_DEADLINE_S = 5.0


class Clock:
    """Monotonic time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeOwner:
    def __init__(self) -> None:
        self.watched: list[Connection] = []

    def on_readable(self, conn: Connection) -> None: ...

    def on_writable(self, conn: Connection) -> None: ...

    def wants_write(self, conn: Connection) -> None:
        self.watched.append(conn)

    def on_error(self, conn: Connection, error: Exception) -> None: ...


# -- a connection's output queue ---------------------------------------------------------------------


@pytest.fixture
def pair() -> Iterator[tuple[PlainTransport, socket.socket]]:
    raw, theirs = socket.socketpair()
    ours = PlainTransport.adopt(raw)
    ours.setblocking(False)
    yield ours, theirs
    ours.close()
    theirs.close()


def phase(conn: Connection) -> Phase:
    """The phase now (a call, so that mypy does not narrow it across the server's turns)."""
    return conn.phase


def connection(transport: PlainTransport, owner: FakeOwner | None = None) -> Connection:
    return Connection(transport, ChatCodec(), owner or FakeOwner())


def fill_kernel_buffers(sock: socket.socket) -> None:
    with pytest.raises(BlockingIOError):  # the reader never reads
        while True:
            sock.send(b"f" * 65536)


def test_output_is_sent_at_once_when_the_kernel_has_room(pair: tuple[PlainTransport, socket.socket]) -> None:
    ours, theirs = pair
    owner = FakeOwner()
    conn = connection(ours, owner)
    assert conn.deliver(b"@alice: hi\n")
    assert conn.out is None and owner.watched == []
    assert theirs.recv(100) == b"@alice: hi\n"


def test_what_the_kernel_does_not_take_is_queued_and_the_owner_asked_to_watch(
    pair: tuple[PlainTransport, socket.socket],
) -> None:
    ours, _ = pair
    owner = FakeOwner()
    conn = connection(ours, owner)
    fill_kernel_buffers(ours)
    assert conn.deliver(b"@alice: later\n")
    assert conn.out == bytearray(b"@alice: later\n")
    assert owner.watched == [conn]


def test_one_payload_bigger_than_the_cap_is_refused_even_with_an_empty_queue(
    pair: tuple[PlainTransport, socket.socket],
) -> None:
    ours, _ = pair
    conn = connection(ours)
    fill_kernel_buffers(ours)
    assert not conn.deliver(b"x" * (20 * SENDQ_MAX_BYTES))
    assert conn.out is None, "nothing of it may be held"


def test_a_reader_that_catches_up_is_not_cut_off_at_the_cap(
    pair: tuple[PlainTransport, socket.socket],
) -> None:
    ours, _ = pair
    conn = connection(ours)
    # Nearly a full queue held back, though the kernel (the reader) has room:
    # the next line must be written out, not taken for a slow reader's.
    conn.out = bytearray(b"x" * (SENDQ_MAX_BYTES - 10))
    assert conn.deliver(b"y" * 100)
    assert conn.out is not None and len(conn.out) < SENDQ_MAX_BYTES - 10


def test_a_reader_that_really_stopped_is_cut_off_at_the_cap(
    pair: tuple[PlainTransport, socket.socket],
) -> None:
    ours, _ = pair
    conn = connection(ours)
    fill_kernel_buffers(ours)
    conn.out = bytearray(b"x" * (SENDQ_MAX_BYTES - 10))
    assert not conn.deliver(b"y" * 100)


class PartialTransport:
    """Takes at most `room` bytes per send, or fails with `error`: what deliver_each must handle."""

    buffers_input = False

    def __init__(self, room: int = 1 << 20, error: OSError | None = None) -> None:
        self.room = room
        self.error = error
        self.sent = b""

    def fileno(self) -> int:
        return -1

    def send(self, data: bytes | bytearray | memoryview, /) -> int:
        if self.error is not None:
            raise self.error
        taken = bytes(data[: self.room])
        self.sent += taken
        return len(taken)

    def recv(self, bufsize: int, /) -> bytes:
        raise BlockingIOError

    def pending(self) -> int:
        return 0

    def shutdown_write(self) -> None: ...

    def close(self) -> None: ...

    def address(self) -> tuple[str, int] | str:
        return ("127.0.0.1", 1)


def test_deliver_each_sends_to_all_but_the_one_skipped() -> None:
    owner = FakeOwner()
    conns = [Connection(PartialTransport(), ChatCodec(), owner) for _ in range(3)]
    dropped: list[Connection] = []
    Connection.deliver_each(conns, b"@bob: hi\n", conns[1], dropped)
    assert [conn.transport.sent for conn in conns] == [b"@bob: hi\n", b"", b"@bob: hi\n"]  # type: ignore[attr-defined]
    assert dropped == [] and owner.watched == [] and all(conn.out is None for conn in conns)


def test_deliver_each_queues_what_the_kernel_did_not_take_as_deliver_does() -> None:
    owner = FakeOwner()
    full, partial, fine = (PartialTransport(room) for room in (0, 3, 100))
    conns = [Connection(transport, ChatCodec(), owner) for transport in (full, partial, fine)]
    dropped: list[Connection] = []
    Connection.deliver_each(conns, b"@bob: hi\n", None, dropped)
    assert dropped == []
    assert [conn.out for conn in conns] == [bytearray(b"@bob: hi\n"), bytearray(b"b: hi\n"), None]
    assert owner.watched == conns[:2]
    Connection.deliver_each(conns, b"@bob: again\n", None, dropped)  # behind: appended, in order
    assert conns[1].out == bytearray(b"b: hi\n@bob: again\n") and fine.sent == b"@bob: hi\n@bob: again\n"


def test_deliver_each_drops_a_gone_peer_and_one_past_the_cap() -> None:
    owner = FakeOwner()
    gone = Connection(PartialTransport(error=BrokenPipeError()), ChatCodec(), owner)
    stuck = Connection(PartialTransport(0), ChatCodec(), owner)
    stuck.out = bytearray(b"x" * (SENDQ_MAX_BYTES - 10))
    fine = Connection(PartialTransport(), ChatCodec(), owner)
    dropped: list[Connection] = []
    Connection.deliver_each([gone, stuck, fine], b"y" * 100, None, dropped)
    assert dropped == [gone, stuck]
    assert fine.transport.sent == b"y" * 100  # type: ignore[attr-defined]
    huge: list[Connection] = []
    Connection.deliver_each(
        [Connection(PartialTransport(0), ChatCodec(), owner)], b"z" * (2 * SENDQ_MAX_BYTES), None, huge
    )
    assert len(huge) == 1 and huge[0].out is None


# -- the server in-process ------------------------------------------------------------------------------


class InProcess:
    """A server on 127.0.0.1 turned by the test, with raw client sockets."""

    def __init__(
        self, config: ServerConfig | None = None, admission: DeferredAdmission | None = None
    ) -> None:
        self.clock = Clock()
        self.server = Server(
            config or ServerConfig("127.0.0.1", 0), loop=EventLoop(self.clock), admission=admission
        )
        self.clients: list[socket.socket] = []

    def close(self) -> None:
        for sock in self.clients:
            sock.close()
        for listener in self.server.listeners:
            listener.close()
        for conn in self.server.connections.values():
            conn.transport.close()
        self.server.loop.close()

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.server.port))
        sock.settimeout(REAL_DEADLINE_S)
        self.clients.append(sock)
        return sock

    def turn_until(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + REAL_DEADLINE_S
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting until {what}"
            self.server.run_once(0.01)

    def turns(self, count: int = 5) -> None:
        for _ in range(count):
            self.server.run_once(0.01)

    def register(self, name: str) -> socket.socket:
        sock = self.connect()
        sock.sendall(f"REGISTER {name} CHAT/1.0\n".encode())
        self.turn_until(lambda: name in self.server.hub.router, f"{name} is registered")
        assert recv_line(sock) == b"200 Registration successful"
        return sock

    def conn_of(self, name: str) -> Connection:
        member = self.server.hub.router.find(name)
        assert isinstance(member, Connection)
        return member

    def advance(self, seconds: float) -> None:
        self.clock.now += seconds
        self.turns(2)


def recv_line(sock: socket.socket) -> bytes:
    line = bytearray()
    while not line.endswith(b"\n"):
        chunk = sock.recv(1)
        assert chunk, f"closed after {bytes(line)!r}"
        line += chunk
    return bytes(line[:-1])


def recv_to_end(sock: socket.socket) -> bytes:
    data = bytearray()
    while chunk := sock.recv(65536):
        data += chunk
    return bytes(data)


@pytest.fixture
def world() -> Iterator[InProcess]:
    made = InProcess()
    yield made
    made.close()


def test_the_wait_after_a_final_reply_is_a_full_linger_time_after_it_was_written(world: InProcess) -> None:
    client = world.register("sleeper")
    conn = world.conn_of("sleeper")
    conn.out = bytearray(b"backlog the sleeper has not read yet\n")  # as if its kernel buffer were full
    world.server._finish(conn, LINE_TOO_LONG, "line too long")
    assert phase(conn) is Phase.DRAINING
    world.clock.now += LINGER_TIMEOUT_S * 0.9
    world.turn_until(lambda: phase(conn) is Phase.LINGERING, "the reply is written and writing shut down")
    # The first deadline (from when the reply was queued) has passed; the wait
    # after shutting down writing must still last its own linger time.
    world.advance(LINGER_TIMEOUT_S * 0.2)
    assert phase(conn) is Phase.LINGERING, "the linger wait was cut short by the earlier deadline"
    world.advance(LINGER_TIMEOUT_S)
    assert phase(conn) is Phase.CLOSED
    assert recv_to_end(client).endswith(b"413 Line too long\n")


def test_a_peer_that_does_not_read_its_final_reply_is_closed_after_the_linger_time(world: InProcess) -> None:
    world.register("sleeper")
    conn = world.conn_of("sleeper")
    conn.out = bytearray(b"x" * 4096)
    assert isinstance(conn.transport, PlainTransport)
    fill_kernel_buffers(conn.transport)
    world.server._finish(conn, LINE_TOO_LONG, "line too long")
    world.advance(LINGER_TIMEOUT_S / 2)
    assert phase(conn) is Phase.DRAINING, "closed before the linger time"
    world.advance(LINGER_TIMEOUT_S)
    assert phase(conn) is Phase.CLOSED
    assert world.server.connections == {}


@pytest.mark.parametrize(
    ("method", "line"),
    [("said", b"@mallory: boom\n"), ("requests", b"@mallory: !rooms\n")],  # a chat line's hot path, the rest
)
def test_an_exception_while_serving_one_connection_closes_only_that_one(
    world: InProcess,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    method: str,
    line: bytes,
) -> None:
    alice, bob, mallory = (world.register(name) for name in ("alice", "bob", "mallory"))
    real = getattr(ChatCodec, method)

    def buggy(self: ChatCodec, data: bytes) -> object:
        if self.name == "mallory":
            raise RuntimeError("a parser bug")
        return real(self, data)

    monkeypatch.setattr(ChatCodec, method, buggy)
    mallory.sendall(line)
    with caplog.at_level(logging.ERROR, logger="chatroom"):
        world.turn_until(lambda: "mallory" not in world.server.hub.router, "mallory is gone")
        world.turns()
    assert recv_to_end(mallory) == b""
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1 and "mallory" in errors[0].getMessage()
    assert errors[0].exc_info is not None and "a parser bug" in str(errors[0].exc_info[1])
    alice.sendall(b"@alice: still here\n")
    world.turns()
    assert recv_line(bob) == b"@alice: still here"


def test_a_connection_that_cannot_be_set_up_is_closed_and_accepting_goes_on(
    world: InProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = world.register("alice")
    real_watch = world.server.loop.watch
    failures = [OSError(errno.ENOMEM, "Cannot allocate memory"), RuntimeError("a bug in setting up")]

    def failing_watch(fileobj: object, events: int, handler: object) -> None:
        if isinstance(handler, Connection) and failures:
            raise failures.pop(0)
        real_watch(fileobj, events, handler)  # type: ignore[arg-type]

    monkeypatch.setattr(world.server.loop, "watch", failing_watch)
    for _ in range(2):
        victim = world.connect()
        world.turns()
        world.advance(1.0)  # past the accept pause that ENOMEM causes
        assert victim.recv(100) == b"", "the socket that could not be set up is closed"
    assert world.server.connections.keys() == {world.conn_of("alice").fd}
    carol = world.register("carol")
    carol.sendall(b"@carol: hello\n")
    world.turns()
    assert recv_line(alice) == b"@carol: hello"


# -- a registration decided later ------------------------------------------------------------------------


class DeferredAdmission:
    """Answers only when the test says so, like an accounts store or a cluster-wide claim."""

    def __init__(self) -> None:
        self.waiting: dict[str, Callable[[bool], None]] = {}

    def check(self, name: str, answer: Callable[[bool], None]) -> None:
        self.waiting[name] = answer

    def answer(self, name: str, allowed: bool) -> None:
        self.waiting.pop(name)(allowed)


@pytest.fixture
def deferred() -> Iterator[tuple[InProcess, DeferredAdmission]]:
    admission = DeferredAdmission()
    made = InProcess(admission=admission)
    admission.waiting.clear()
    yield made, admission
    made.close()


def register_deferred(world: InProcess, admission: DeferredAdmission, name: str) -> socket.socket:
    sock = world.connect()
    sock.sendall(f"REGISTER {name} CHAT/1.0\n".encode())
    world.turn_until(lambda: name in admission.waiting, f"{name}'s registration is asked about")
    admission.answer(name, True)
    world.turns()
    assert recv_line(sock) == b"200 Registration successful"
    return sock


def test_lines_sent_while_a_registration_is_decided_wait_and_are_judged_after_it(
    deferred: tuple[InProcess, DeferredAdmission],
) -> None:
    world, admission = deferred
    bob = register_deferred(world, admission, "bob")
    alice = world.connect()
    alice.sendall(b"REGISTER alice CHAT/1.0\n@alice: one\n@alice: two\n")
    world.turn_until(lambda: "alice" in admission.waiting, "alice's registration is asked about")
    alice.sendall(b"@alice: three\n")  # more input while undecided: it waits too
    world.turns()
    assert "alice" not in world.server.hub.router
    admission.answer("alice", True)
    world.turns()
    assert recv_line(alice) == b"200 Registration successful"
    assert [recv_line(bob) for _ in range(3)] == [b"@alice: one", b"@alice: two", b"@alice: three"]


def test_a_registration_refused_later_gets_401_and_its_pipelined_lines_are_never_relayed(
    deferred: tuple[InProcess, DeferredAdmission],
) -> None:
    world, admission = deferred
    bob = register_deferred(world, admission, "bob")
    alice = world.connect()
    alice.sendall(b"REGISTER alice CHAT/1.0\n@alice: sneaky\n")
    world.turn_until(lambda: "alice" in admission.waiting, "alice's registration is asked about")
    admission.answer("alice", False)
    world.turns()
    assert recv_to_end(alice) == b"401 Client already registered\n"
    bob.settimeout(0.2)
    with pytest.raises(TimeoutError):
        bob.recv(100)


def test_a_peer_that_leaves_while_its_registration_is_decided_is_not_registered_by_the_answer(
    deferred: tuple[InProcess, DeferredAdmission],
) -> None:
    world, admission = deferred
    alice = world.connect()
    alice.sendall(b"REGISTER alice CHAT/1.0\n")
    world.turn_until(lambda: "alice" in admission.waiting, "alice's registration is asked about")
    alice.close()
    world.clock.now += REGISTRATION_TIMEOUT_S + 1  # the undecided connection times out (it is not read)
    world.turn_until(lambda: not world.server.connections, "the connection is gone")
    admission.answer("alice", True)
    world.turns()
    assert "alice" not in world.server.hub.router
    register_deferred(world, admission, "alice")


def test_lines_pipelined_after_an_immediate_registration_are_judged_in_order(world: InProcess) -> None:
    bob = world.register("bob")
    alice = world.connect()
    alice.sendall(b"REGISTER alice CHAT/1.0\n@alice: first\n" + b"x" * 9000 + b"\n")
    world.turns()
    assert recv_line(bob) == b"@alice: first"
    assert recv_to_end(alice) == b"200 Registration successful\n413 Line too long\n"


# -- the delivery interval adapts to the traffic ------------------------------------------------------


def has_data(sock: socket.socket) -> bool:
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)


def talk(world: InProcess, sender: socket.socket, name: str, lines: int, listener: socket.socket) -> None:
    """`lines` lines from `name`, 1 ms of fake time apart; `listener` reads them all."""
    for n in range(lines):
        sender.sendall(f"@{name}: line {n}\n".encode())
        world.clock.now += 0.001
        world.turns(2)
    world.advance(0.002)
    received = b""
    while not received.endswith(f"line {lines - 1}\n".encode()):
        world.turns(1)
        received += listener.recv(65536) if has_data(listener) else b""


def test_one_busy_room_makes_the_server_wait_the_interval_and_gather_lines(world: InProcess) -> None:
    alice, bob = world.register("alice"), world.register("bob")
    talk(world, alice, "alice", 150, bob)  # 1,000 lines/s in one room: 2 a room per 2 ms interval
    alice.sendall(b"@alice: first\n")  # delivered at once: the interval since the last has passed
    world.clock.now += 0.003
    world.turn_until(lambda: has_data(bob), "the first line arrived")
    assert recv_line(bob) == b"@alice: first"
    alice.sendall(b"@alice: waits\n")  # within the interval of the last delivery: it waits
    world.turns(5)
    assert not has_data(bob)
    world.advance(0.002)
    assert recv_line(bob) == b"@alice: waits"


def test_many_quiet_rooms_make_the_server_deliver_every_line_at_once(world: InProcess) -> None:
    listener = world.register("listener")
    senders = [world.register(f"u{n}") for n in range(20)]
    for n, sock in enumerate(senders):
        sock.sendall(f"@u{n}: !join #r{n}\n".encode())
        world.turn_until(functools.partial(has_data, sock), f"u{n} joined")
        assert recv_line(sock).startswith(b"210 ")
    peer = world.register("peer")  # in the lobby with listener, to hear it
    for n in range(150):  # 1,000 lines/s, over 20 rooms: 0.1 a room per 2 ms interval
        k = n % 20
        senders[k].sendall(f"@u{k}: hi {n}\n".encode())
        world.clock.now += 0.001
        world.turns(1)
    for text in ("at once", "also at once"):  # 0.1 ms apart: the second would wait if batching
        listener.sendall(f"@listener: {text}\n".encode())
        world.clock.now += 0.0001
        world.turn_until(lambda: has_data(peer), f"{text!r} arrived")
        assert recv_line(peer) == f"@listener: {text}".encode()
