"""The router's fan-out in-process: CPU per delivery for CHAT/1.0 and IRC members of one room.

No sockets: each recipient only counts what it is handed, so this measures
what the router and the wires cost per delivery (encoding, sharing payloads),
not the sends. It registers C members of one room on one kind of wire (one
shared CHAT/1.0 wire, or one IRC codec each), routes batches of 1, 10 and 100
lines from C distinct senders, and prints the best of three runs:

    python3 scripts/router_fanout.py [C]

The numbers are in docs/PERFORMANCE.md ("Run 13").
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chatroom.codecs.chat import ChatWire
from chatroom.hub.message import Wire
from chatroom.hub.router import Router
from chatroom.irc.codec import IrcCodec, IrcSettings, IrcShared

ROUNDS = 200
TEXT = "hello there, this is a chat line of an ordinary length"


class Counter:
    """A recipient that takes every payload and only counts it."""

    def __init__(self, name: str, wire: Wire) -> None:
        self.name = name
        self.wire = wire
        self.taken = 0

    def deliver(self, payload: bytes) -> bool:
        self.taken += 1
        return True


def members(kind: str, count: int) -> tuple[Router, list[Counter]]:
    router, made = Router(), []
    shared, chat = IrcShared(), ChatWire()
    for n in range(count):
        wire: Wire = chat
        if kind == "irc":
            codec = IrcCodec(IrcSettings(server_name="bench"), shared)
            list(codec.requests(f"NICK u{n}\r\nUSER u 0 * :u\r\n".encode()))
            codec.accept(f"u{n}")
            wire = codec
        member = Counter(f"u{n}", wire)
        router.add(member, member.name)
        router.move(member, "#bench")
        made.append(member)
    return router, made


def ns_per_delivery(kind: str, count: int, batch: int) -> float:
    best = float("inf")
    for _ in range(3):
        router, made = members(kind, count)
        started = time.perf_counter()
        for _ in range(ROUNDS):
            for n in range(batch):
                router.say(made[n % count], TEXT)
            router.deliver()
        spent = time.perf_counter() - started
        best = min(best, spent / (ROUNDS * batch * (count - 1)) * 1e9)
    return best


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    for kind in ("chat", "irc"):
        for batch in (1, 10, 100):
            cost = ns_per_delivery(kind, count, batch)
            print(f"{kind:4} C={count} batch {batch:3}: {cost:7.0f} ns/delivery")


if __name__ == "__main__":
    main()
