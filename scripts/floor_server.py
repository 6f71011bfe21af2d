"""The floor: the least a CPython selectors server can do for peerbench's W1 and W4, and what it costs.

Not a chat server. It trusts every line (no limits, no errors, no history,
no slow-reader handling, no partial sends: a reader that cannot take a line
misses it), answers REGISTER with 200 and
`!join #room` with 201, and sends every other line, as received, to the
other members of the sender's room (#lobby until it joins one). What it
spends per delivery is what any Python server on this machine must spend at
least: recv, one split, one send() per recipient, and the loop's turns.

    python3 ../shared/peerbench/peerbench.py --chat-cmd "floor=python3 scripts/floor_server.py" \\
        --chat-cmd "chatroom=python3 server.py --log-level warning --db /tmp/pb/h.sqlite3" \\
        --irc ngircd,inspircd --workloads W4 --out /tmp/pb/w4.json

docs/PERFORMANCE.md ("The floor of a Python server") has the numbers.
"""

from __future__ import annotations

import selectors
import socket

LOBBY = b"#lobby"


class Member:
    __slots__ = ("sock", "name_end", "room", "tail")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.name_end = 0  # where a chat line's text starts ("@name: "), 0 before REGISTER
        self.room = LOBBY
        self.tail = b""


def main() -> None:
    selector = selectors.DefaultSelector()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    listener.setblocking(False)
    selector.register(listener, selectors.EVENT_READ, None)
    rooms: dict[bytes, list[Member]] = {LOBBY: []}
    print(f"Server listening on port {listener.getsockname()[1]}", flush=True)
    while True:
        for key, _ in selector.select():
            member: Member | None = key.data
            if member is None:
                accept(listener, selector)
                continue
            try:
                data = member.sock.recv(65536)
            except OSError:  # reset by the peer
                data = b""
            if not data:
                selector.unregister(member.sock)
                member.sock.close()
                if member in rooms[member.room]:  # not before its REGISTER
                    rooms[member.room].remove(member)
                continue
            lines = (member.tail + data).split(b"\n")
            member.tail = lines.pop()
            for line in lines:
                serve(member, line, rooms)


def accept(listener: socket.socket, selector: selectors.BaseSelector) -> None:
    while True:
        try:
            sock, _ = listener.accept()
        except BlockingIOError:
            return
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        selector.register(sock, selectors.EVENT_READ, Member(sock))


def serve(member: Member, line: bytes, rooms: dict[bytes, list[Member]]) -> None:
    if not member.name_end:  # REGISTER name CHAT/1.0
        member.name_end = len(line.split(b" ")[1]) + 3
        rooms[LOBBY].append(member)
        member.sock.send(b"200 Registration successful\n")
        return
    text = line[member.name_end :].rstrip(b"\r")
    if text.startswith(b"!join "):
        rooms[member.room].remove(member)
        member.room = text[6:]
        rooms.setdefault(member.room, []).append(member)
        member.sock.send(b"201 Joined " + member.room + b"\n")
        return
    payload = line + b"\n"
    for other in rooms[member.room]:
        if other is not member:
            try:  # noqa: SIM105 (a context manager per send would raise the floor)
                other.sock.send(payload)  # partial sends are not handled: the benchmark counts what arrives
            except OSError:  # a full or gone reader misses the line, as peerbench will report
                pass


if __name__ == "__main__":
    main()
