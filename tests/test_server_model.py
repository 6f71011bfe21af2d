"""The whole server against a model: hypothesis connects, registers, moves, talks, leaves and resets clients.

A real `Server` runs in-process on 127.0.0.1 with a clock that never moves
(no timeout fires by surprise) and no delivery batching; its clients are real
sockets. Each rule sends bytes, then the loop is turned with `run_once(0)`
until it is quiet (nothing read, queued, pending or to close, several turns
running); no sleeping. The model is plain dicts and lists written from
docs/PROTOCOL.md (sections 4, 6 and 7): who is registered under which folded
name, on which connection, in which rooms (CHAT/1.0: one; CHAT/1.1: several,
the current one last). It decides, when a line is said, who must receive it
and in which form. After every step:

- every registered name maps to exactly one live connection, the client's
  own, and the server knows no other user;
- every client received exactly the chat lines the model expects, in order:
  none twice, none from a room it is not in (or was not in when the line was
  said), none it should have got missing;
- every command and registration got the reply code the model expects;
- a CHAT/1.0 client got nothing but chat lines and replies (it asked for no
  event), a CHAT/1.1 client no event about a room it was never in;
- a client that left, reset or was refused is gone from the server: its
  connection is closed and no longer a recipient, so no line can reach it.

Adding a rule: a rule sends what a client would and tells the model what must
follow. An operator's `!kick` is one: the operator `op` logs in with its
password (the accounts are a synchronous stand-in for the SQLite store, so no
scrypt runs), sends `@op: !kick NAME`, expects 220, and the target expects its
final 403 line and the end of stream (`self.gone(target, by_server=True)`);
anyone else's `!kick` gets 403 and changes nothing.

Names and rooms are ASCII, so case folding is the whole folding rule.
`SERVER_MODEL_PROFILE=long` runs 2,000 examples of up to 80 steps
(docs/SECURITY.md, "Fuzzing").
"""

from __future__ import annotations

import base64
import os
import select
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from chatroom.hub.accounts import Attempt, Checked, Refused
from chatroom.net.connection import Connection, Phase
from chatroom.net.loop import EventLoop
from chatroom.protocol import events
from chatroom.protocol.lines import VERSION, VERSION_1_1
from chatroom.server.app import Server, ServerConfig

LOBBY = "#lobby"
NAMES = ("alice", "ALICE", "bob", "Carol", "dave", "eve")  # 'alice' and 'ALICE' are one user
BAD_NAMES = ("@bob", "#dev", "!x", "bob:")  # refused with 400 (docs/PROTOCOL.md section 3)
ROOMS = ("#lobby", "#Lobby", "#dev", "#Dev", "#ops")
WHISPER_TO = (*NAMES, "zed")  # 'zed' is never online
MAX_CLIENTS = 7
MAX_SETTLE_TURNS = 500
OPERATOR, OPERATOR_PASSWORD = "op", "secret"
QUIET_TURNS = 3  # turns in a row with nothing happening before the server counts as quiet

PROFILES = {
    "default": settings(
        max_examples=20,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    ),
    "long": settings(
        max_examples=2000,
        stateful_step_count=80,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    ),
}


def fold(name: str) -> str:
    return name.casefold()


class ModelAccounts:
    """One protected operator name, judged at once (the server's own accounts run scrypt on a thread)."""

    def check(self, name: str, attempt: Attempt, answer: Checked) -> None:
        if fold(name) != OPERATOR:
            answer(None, False)
        elif attempt.credentials is not None and attempt.credentials.password == OPERATOR_PASSWORD:
            answer(None, True)
        else:
            answer(Refused(401, f"The name {name} is protected by a password."), False)

    def is_operator_name(self, name: str) -> bool:
        return fold(name) == OPERATOR

    def unclaim(self, name: str, answer: Callable[[bool], None]) -> None:
        answer(False)

    def ban(self, name: str, seconds: float | None, by: str) -> float | None:
        raise AssertionError("the model does not ban")

    def unban(self, name: str, by: str) -> bool:
        raise AssertionError("the model does not unban")


class Clock:
    """Monotonic time that never moves: registration and linger timers never fire."""

    now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Heard:
    """A chat line as a client must get it: 'room' (the folded room; None for CHAT/1.0) or 'private'."""

    form: str
    room: str | None
    sender: str
    text: str


@dataclass(eq=False)
class Client:
    """One socket and what the test knows of it."""

    sock: socket.socket
    number: int
    version: bytes = VERSION
    name: str | None = None  # as registered (the model's user), else None
    conn: Connection | None = None  # the server's connection for it, once registered
    state: str = "connected"  # connected, registered, ending (waits for the close), closed
    buffer: bytearray = field(default_factory=bytearray)
    heard: list[Heard] = field(default_factory=list)
    replies: list[int] = field(default_factory=list)  # codes of final reply lines, in order
    expected_heard: list[Heard] = field(default_factory=list)
    expected_replies: list[int] = field(default_factory=list)
    got_eof: bool = False
    seen_rooms: set[str] = field(default_factory=set)  # folded: every room its user has been in
    unexpected: list[str] = field(default_factory=list)  # lines it should never have been sent


@dataclass
class User:
    """The model's view of a registered user."""

    name: str
    client: Client
    rooms: list[str]  # folded, in the order entered; the current room last


class ServerModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        config = ServerConfig("127.0.0.1", 0, delivery_interval=0.0)
        self.server = Server(config, loop=EventLoop(Clock()))
        accounts = ModelAccounts()
        self.server.accounts = accounts  # type: ignore[assignment]  # the stand-in, in both places
        self.server.hub.accounts = accounts
        self.clients: list[Client] = []
        self.users: dict[str, User] = {}  # folded name -> user
        self.serial = 0
        self.closed_conns: list[Connection] = []

    def teardown(self) -> None:
        for client in self.clients:
            client.sock.close()
        for listener in self.server.listeners:
            listener.close()
        for conn in self.server.connections.values():
            conn.transport.close()
        self.server.loop.close()

    # -- turning the server and reading what clients got ---------------------------------------------

    def settle(self) -> None:
        """Turn the loop without waiting until nothing moves for a few turns in a row."""
        quiet = 0
        for _ in range(MAX_SETTLE_TURNS):
            self.server.run_once(0)
            moved = self.drain()
            server = self.server
            busy = (
                moved
                or server.hub.has_pending()
                or server._to_close
                or any(conn.out for conn in server.connections.values())
            )
            quiet = 0 if busy else quiet + 1
            if quiet >= QUIET_TURNS:
                return
        raise AssertionError(f"the server did not settle in {MAX_SETTLE_TURNS} turns")

    def drain(self) -> bool:
        """Read what every open client socket holds; True when anything arrived."""
        moved = False
        for client in self.clients:
            if client.state == "closed" or client.got_eof:
                continue
            while select.select([client.sock], [], [], 0)[0]:
                try:
                    data = client.sock.recv(65536)
                except ConnectionResetError:
                    data = b""
                moved = True
                if not data:
                    client.got_eof = True
                    self.on_eof(client)
                    break
                client.buffer += data
                self.take_lines(client)
        return moved

    def take_lines(self, client: Client) -> None:
        *lines, rest = bytes(client.buffer).split(b"\n")
        client.buffer = bytearray(rest)
        for line in lines:
            event = events.parse_event(line, client.version)
            if isinstance(event, events.Unrecognised):
                client.unexpected.append(event.line)  # CHAT/1.0: no event; CHAT/1.1: no unknown verb
            elif isinstance(event, events.RoomNames | events.MembersEnd | events.Topic | events.HistoryEnd):
                if fold(event.room) not in client.seen_rooms:  # an event about a room never entered
                    client.unexpected.append(line.decode())
            elif isinstance(event, events.RoomLine):
                room = fold(event.room) if event.room is not None else None
                client.heard.append(Heard("room", room, event.sender, event.text))
            elif isinstance(event, events.PrivateLine):
                client.heard.append(Heard("private", None, event.sender, event.text))
            elif isinstance(event, events.FollowedLine):
                client.heard.append(Heard("followed", fold(event.room), event.sender, event.text))
            elif isinstance(event, events.Reply) and event.final:
                client.replies.append(event.code)
            # Which events a CHAT/1.1 client gets, and when, is not modelled: only that they are
            # about rooms it has been in (no history is kept here, so there are no HISTORY lines).

    def on_eof(self, client: Client) -> None:
        """The server closed: the client closes too (as ours does), so a lingering server side ends."""
        assert client.state in ("ending", "closed"), (
            f"client {client.number} ({client.name}) was closed by the server unexpectedly; "
            f"it had: {client.heard[-3:]} replies {client.replies[-3:]}"
        )
        client.sock.close()
        client.state = "closed"

    # -- the model's helpers -----------------------------------------------------------------------------

    def open_clients(self, state: str) -> list[Client]:
        return [client for client in self.clients if client.state == state]

    def pick(self, state: str, index: int) -> Client:
        found = self.open_clients(state)
        return found[index % len(found)]

    def user_of(self, client: Client) -> User:
        assert client.name is not None
        return self.users[fold(client.name)]

    def send(self, client: Client, line: str) -> None:
        client.sock.sendall(line.encode() + b"\n")

    def next_text(self, words: str) -> str:
        self.serial += 1
        return f"{self.serial} {words}"

    def gone(self, client: Client, *, by_server: bool) -> None:
        """`client`'s user is no longer registered; when `by_server`, the server closes it and the client
        waits for that (DISCONNECT, a refusal, later a kick); otherwise the client has closed already."""
        if client.name is not None and fold(client.name) in self.users:
            del self.users[fold(client.name)]
        if client.conn is not None:
            self.closed_conns.append(client.conn)
        client.state = "ending" if by_server else "closed"

    def room_members(self, room: str) -> list[User]:
        return [user for user in self.users.values() if room in user.rooms]

    def say_to_room(self, sender: User, room: str, text: str) -> None:
        """The model's rule for a room line: every other member of `room`, in the sender's version's form."""
        for member in self.room_members(room):
            if member is sender:
                continue
            client = member.client
            shown_room = room if client.version == VERSION_1_1 else None
            client.expected_heard.append(Heard("room", shown_room, sender.name, text))

    # -- rules ---------------------------------------------------------------------------------------------

    @initialize(name=st.sampled_from(NAMES), version=st.sampled_from([VERSION, VERSION_1_1]))
    def two_clients_connect_and_one_registers(self, name: str, version: bytes) -> None:
        """So that most rules apply from the first step (hypothesis also turns some rules off in each
        example, swarm testing: an example where none can apply is given up, and not counted)."""
        self.connect()
        self.connect()
        self.register(0, name, version)

    @precondition(lambda self: len([c for c in self.clients if c.state != "closed"]) < MAX_CLIENTS)
    @rule()
    def connect(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.server.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle wait for a delayed ACK
        sock.setblocking(False)
        self.clients.append(Client(sock, len(self.clients)))
        self.settle()

    @precondition(lambda self: any(c.state == "connected" for c in self.clients))
    @rule(
        index=st.integers(0, MAX_CLIENTS),
        name=st.sampled_from(NAMES + BAD_NAMES),
        version=st.sampled_from([VERSION, VERSION_1_1]),
    )
    def register(self, index: int, name: str, version: bytes) -> None:
        client = self.pick("connected", index)
        client.version = version
        self.send(client, f"REGISTER {name} {version.decode()}")
        if name in BAD_NAMES:
            client.expected_replies.append(400)
            self.gone(client, by_server=True)
        elif fold(name) in self.users:
            client.expected_replies.append(401)
            self.gone(client, by_server=True)
        else:
            client.expected_replies.append(200)
            client.name = name
            client.state = "registered"
            self.users[fold(name)] = User(name, client, [LOBBY])
            client.seen_rooms.add(LOBBY)
        self.settle()
        if client.state == "registered":
            member = self.server.hub.router.find(name)
            assert isinstance(member, Connection), f"{name} is not registered on the server"
            client.conn = member

    @precondition(lambda self: any(c.state == "registered" for c in self.clients))
    @rule(index=st.integers(0, MAX_CLIENTS), room=st.sampled_from(ROOMS))
    def join(self, index: int, room: str) -> None:
        client = self.pick("registered", index)
        user = self.user_of(client)
        self.send(client, f"@{user.name}: !join {room}")
        key = fold(room)
        if key == user.rooms[-1]:
            client.expected_replies.append(409)
        elif client.version == VERSION:
            client.expected_replies.append(210)
            user.rooms = [key]  # CHAT/1.0: one room at a time
            client.seen_rooms.add(key)
        else:
            client.expected_replies.append(210)
            user.rooms = [r for r in user.rooms if r != key] + [key]  # entered, or made current
            client.seen_rooms.add(key)
        self.settle()

    @precondition(lambda self: any(c.state == "registered" for c in self.clients))
    @rule(index=st.integers(0, MAX_CLIENTS), room=st.sampled_from((None, *ROOMS)))
    def leave(self, index: int, room: str | None) -> None:
        client = self.pick("registered", index)
        user = self.user_of(client)
        self.send(client, f"@{user.name}: !leave" + (f" {room}" if room else ""))
        key = fold(room) if room else user.rooms[-1]
        if key not in user.rooms:
            client.expected_replies.append(404)
        elif user.rooms == [LOBBY]:
            client.expected_replies.append(409)
        else:
            client.expected_replies.append(210)
            user.rooms = [r for r in user.rooms if r != key] or [LOBBY]
            client.seen_rooms.add(LOBBY)
        self.settle()

    def room_line(self, client: Client, room: str | None) -> str:
        """A room line from `client` (to its room, or CHAT/1.1: to a named one); the model is told."""
        user = self.user_of(client)
        text = self.next_text("hello there")
        if room is None or client.version == VERSION:
            self.say_to_room(user, user.rooms[-1], text)
            return f"@{user.name}: {text}"
        if fold(room) in user.rooms:
            self.say_to_room(user, fold(room), text)
        else:
            client.expected_replies.append(404)
        return f"@{user.name} {room}: {text}"

    @precondition(lambda self: any(c.state == "registered" for c in self.clients))
    @rule(index=st.integers(0, MAX_CLIENTS), room=st.sampled_from((None, *ROOMS)))
    def say(self, index: int, room: str | None) -> None:
        """A room line: to the current room, or (CHAT/1.1) to a room named in the line."""
        client = self.pick("registered", index)
        self.send(client, self.room_line(client, room))
        self.settle()

    @precondition(lambda self: any(c.state == "registered" for c in self.clients))
    @rule(
        index=st.integers(0, MAX_CLIENTS),
        rooms=st.lists(st.sampled_from((None, *ROOMS)), min_size=2, max_size=4),
    )
    def say_several_in_one_packet(self, index: int, rooms: list[str | None]) -> None:
        """Lines pipelined in one send are judged and relayed one by one, in order."""
        client = self.pick("registered", index)
        lines = [self.room_line(client, room) for room in rooms]
        client.sock.sendall("".join(line + "\n" for line in lines).encode())
        self.settle()

    @precondition(lambda self: any(c.state == "registered" for c in self.clients))
    @rule(index=st.integers(0, MAX_CLIENTS), cut=st.integers(1, 30))
    def say_in_two_pieces(self, index: int, cut: int) -> None:
        """A line whose bytes arrive in two reads is relayed once, whole, after its second part."""
        client = self.pick("registered", index)
        data = (self.room_line(client, None) + "\n").encode()
        client.sock.sendall(data[:cut])
        self.settle()
        client.sock.sendall(data[cut:])
        self.settle()

    @precondition(lambda self: any(c.state == "registered" for c in self.clients))
    @rule(index=st.integers(0, MAX_CLIENTS), other=st.sampled_from(NAMES))
    def speak_for_another(self, index: int, other: str) -> None:
        """A line with another user's prefix is refused (403) and reaches no one."""
        client = self.pick("registered", index)
        user = self.user_of(client)
        if fold(other) == fold(user.name):
            other = other + "x"
        self.send(client, f"@{other}: {self.next_text('impostor')}")
        client.expected_replies.append(403)
        self.settle()

    @precondition(lambda self: any(c.state == "registered" for c in self.clients))
    @rule(index=st.integers(0, MAX_CLIENTS), to=st.sampled_from(WHISPER_TO))
    def whisper(self, index: int, to: str) -> None:
        """A private line (`!msg NAME TEXT`): to its addressee alone, wherever they are."""
        client = self.pick("registered", index)
        user = self.user_of(client)
        text = self.next_text("psst")
        self.send(client, f"@{user.name}: !msg {to} {text}")
        addressee = self.users.get(fold(to))
        if addressee is user:
            client.expected_replies.append(400)
        elif addressee is None:
            client.expected_replies.append(404)
        else:
            client.expected_replies.append(215)
            addressee.client.expected_heard.append(Heard("private", None, user.name, text))
        self.settle()

    @precondition(
        lambda self: any(c.state == "connected" for c in self.clients) and OPERATOR not in self.users
    )
    @rule(index=st.integers(0, MAX_CLIENTS), right=st.booleans())
    def operator_logs_in(self, index: int, right: bool) -> None:
        """CHAT/1.1 with the operator's password (right or wrong: a wrong one is 401 and the close)."""
        client = self.pick("connected", index)
        client.version = VERSION_1_1
        password = base64.b64encode((OPERATOR_PASSWORD if right else "wrong").encode()).decode()
        self.send(client, f"REGISTER {OPERATOR} CHAT/1.1 password={password}")
        if not right:
            client.expected_replies.append(401)
            self.gone(client, by_server=True)
            self.settle()
            return
        client.expected_replies.append(200)
        client.name = OPERATOR
        client.state = "registered"
        self.users[OPERATOR] = User(OPERATOR, client, [LOBBY])
        client.seen_rooms.add(LOBBY)
        self.settle()
        member = self.server.hub.router.find(OPERATOR)
        assert isinstance(member, Connection), "the operator is not registered on the server"
        client.conn = member

    @precondition(lambda self: len(self.users) >= 2)
    @rule(index=st.integers(0, MAX_CLIENTS), victim_index=st.integers(0, MAX_CLIENTS))
    def kick(self, index: int, victim_index: int) -> None:
        """`!kick NAME` from anyone: the operator's kicks (220; the target gets 403 and is closed)."""
        client = self.pick("registered", index)
        user = self.user_of(client)
        others = [other for other in self.users.values() if other is not user]
        victim = others[victim_index % len(others)]
        self.send(client, f"@{user.name}: !kick {victim.name} enough")
        if fold(user.name) != OPERATOR:
            client.expected_replies.append(403)
        else:
            client.expected_replies.append(220)
            victim.client.expected_replies.append(403)
            self.gone(victim.client, by_server=True)
        self.settle()

    @precondition(lambda self: any(c.state == "registered" for c in self.clients))
    @rule(index=st.integers(0, MAX_CLIENTS))
    def disconnect(self, index: int) -> None:
        """The polite goodbye: DISCONNECT NAME VERSION; the server closes and the client reads to the end."""
        client = self.pick("registered", index)
        user = self.user_of(client)
        self.send(client, f"DISCONNECT {user.name} {client.version.decode()}")
        self.gone(client, by_server=True)
        self.settle()

    @precondition(lambda self: any(c.state in ("connected", "registered") for c in self.clients))
    @rule(index=st.integers(0, MAX_CLIENTS), abrupt=st.booleans())
    def reset(self, index: int, abrupt: bool) -> None:
        """The client vanishes: a reset (RST, SO_LINGER 0) or a plain close without DISCONNECT."""
        candidates = [c for c in self.clients if c.state in ("connected", "registered")]
        client = candidates[index % len(candidates)]
        if abrupt:
            client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.sock.close()
        self.gone(client, by_server=False)
        self.settle()

    # -- invariants -------------------------------------------------------------------------------------

    @invariant()
    def every_registered_name_maps_to_exactly_one_live_connection_its_own(self) -> None:
        router = self.server.hub.router
        assert len(router) == len(self.users), (sorted(m.name for m in router), sorted(self.users))
        for key, user in self.users.items():
            member = router.find(key)
            assert member is not None, f"{user.name} is not registered on the server"
            assert member is user.client.conn, f"{user.name} maps to another connection"
            assert isinstance(member, Connection) and member.phase is Phase.OPEN
            assert member.address == user.client.sock.getsockname()[:2]
        live = [conn for conn in self.server.connections.values() if conn.codec.registered]
        assert len(live) == len(self.users), [conn.name for conn in live]

    @invariant()
    def a_closed_connection_is_no_recipient_and_is_gone(self) -> None:
        router = self.server.hub.router
        members = set(router)
        for conn in self.closed_conns:
            assert conn not in members, f"a closed connection ({conn.name}) is still a recipient"
            assert conn.phase is Phase.CLOSED and conn not in self.server.connections.values()
        for client in self.clients:
            assert client.state != "ending" or client.got_eof, f"client {client.number} was never closed"

    @invariant()
    def every_client_heard_exactly_what_the_model_says_once_each_in_order(self) -> None:
        for client in self.clients:
            assert client.heard == client.expected_heard, (
                f"client {client.number} ({client.name}, {client.version.decode()}):\n"
                f"  heard    {client.heard}\n  expected {client.expected_heard}"
            )
            texts = [heard.text for heard in client.heard]
            assert len(texts) == len(set(texts)), f"a line was delivered twice: {texts}"

    @invariant()
    def no_client_got_a_line_it_did_not_ask_for(self) -> None:
        """A CHAT/1.0 client gets chat lines and replies only; a CHAT/1.1 client events about its rooms."""
        for client in self.clients:
            assert not client.unexpected, f"client {client.number} ({client.name}) got {client.unexpected}"

    @invariant()
    def every_request_got_the_reply_the_model_expects(self) -> None:
        for client in self.clients:
            assert client.replies == client.expected_replies, (
                f"client {client.number} ({client.name}): replies {client.replies}, "
                f"expected {client.expected_replies}"
            )


ServerModel.TestCase.settings = PROFILES[os.environ.get("SERVER_MODEL_PROFILE", "default")]
TestServerModel = ServerModel.TestCase
