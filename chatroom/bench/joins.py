"""The rooms workload's '!join', run inside a load-generator worker.

Every registered client of the worker that the order names sends
`@name: !join #room` at once; each then waits for the server's
`210 You are now in #room ...` (docs/PROTOCOL.md, section 6). Any other
first reply (a server without commands answers nothing, and a full server
429) is a failure, counted by its words.
"""

from __future__ import annotations

import collections

from chatroom.bench.loadgen import Client, State, Worker, mono
from chatroom.bench.orders import Join, JoinReport


def join(worker: Worker, order: Join) -> JoinReport:
    t_start = mono()
    deadline = t_start + int(order.deadline_s * 1e9)
    fails: collections.Counter[str] = collections.Counter()
    waiting: dict[int, Client] = {}
    for client in worker.clients:
        room = order.rooms.get(client.name)
        if room is None or client.state is not State.READY:
            continue
        line = b"@%s: !join %s\n" % (client.name.encode(), room.encode())
        if worker.send_small(client, line) and client.state is State.READY:
            waiting[client.fd] = client
        else:
            fails[f"send !join: {client.why}"] += 1
    wanted = len(waiting) + sum(fails.values())
    joined = 0
    while waiting and mono() < deadline:
        for client in [c for c in waiting.values() if c.out]:
            worker.flush(client)
        for key, _ in worker.selector.select(0.05):
            client = key.data
            if client.fd not in waiting:
                continue
            verdict = worker.reply(client, b"210", "!join")
            if verdict is None:
                continue
            del waiting[client.fd]
            if verdict:
                fails[verdict] += 1
                worker.drop(client, verdict, count=False)
            else:
                joined += 1
    for client in waiting.values():
        fails["no 210 reply to !join before the deadline"] += 1
        worker.drop(client, "join deadline", count=False)
    return JoinReport(joined=joined, wanted=wanted, fails=dict(fails), t_start_ns=t_start, t_end_ns=mono())
