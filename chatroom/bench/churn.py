"""The soak workload's client churn, run inside a load-generator worker.

Sessions connect, register, send their few paced lines, say DISCONNECT and
wait for the server to close; each one that ends is replaced by a new one
with a new name. The worker's long-lived clients (residents) must receive
every line any session sent. Anything else a client sees is an error: a
refused registration, a connection closed before DISCONNECT, a line that is
not a well-formed benchmark line, a server that does not close after
DISCONNECT.
"""

from __future__ import annotations

import collections
import os
import selectors
import socket

from chatroom.bench.body import LineSpec
from chatroom.bench.loadgen import REGISTER_SAMPLE_CAP, Client, State, Tally, Worker, mono
from chatroom.bench.orders import Soak, SoakReport
from chatroom.bench.procstat import own_cpu_seconds

SESSION_TIMEOUT_NS = 10_000_000_000
# A session not registered 10 s after its connect, or not closed by the
# server 10 s after its DISCONNECT, is an error (our server's own
# registration timeout is 10 s too).

STARTS_PER_TURN = 32  # new connections per loop turn, so a refill does not starve reading
NAME_DIGITS = 6


def soak(worker: Worker, order: Soak) -> SoakReport:
    cpu0 = own_cpu_seconds()
    name_len = len(order.name_prefix) + 2 + NAME_DIGITS  # prefix, worker index, counter
    spec = LineSpec(order.step, order.name_prefix, name_len, order.body_bytes)
    resident_tally = Tally(spec, order.sample_every)
    session_tally = Tally(spec, 0)  # checked and counted, not timed
    residents = {c.fd for c in worker.clients if c.state is State.READY}
    sessions: dict[int, Client] = {}
    chatting: collections.deque[Client] = collections.deque()
    errors: collections.Counter[str] = collections.Counter()
    register_ms: list[float] = []
    interval = 1e9 / order.rate if order.rate > 0 else 0.0
    t0 = order.t0_ns
    end = order.end_ns
    drain_deadline = end + int(order.drain_max_s * 1e9)
    quiet_ns = int(order.drain_quiet_s * 1e9)
    counter = 0
    k = 0
    sent = 0
    started = 0
    completed = 0
    lag_max = 0
    ending = False
    last_resident_data = mono()
    next_check = 0

    def leave(session: Client) -> None:
        session.out += b"DISCONNECT " + session.name.encode() + b" CHAT/1.0\n"
        session.state = State.LEAVING
        session.t0 = mono()

    def forget(session: Client, why: str) -> None:
        sessions.pop(session.fd, None)
        if why:
            errors[why[:100]] += 1
        worker.drop(session, why, count=False)

    while True:
        now = mono()
        if not ending and now >= end:
            ending = True
            for session in chatting:
                if session.state is State.READY:
                    leave(session)
            chatting.clear()
        if not ending and now >= t0:
            starts = 0
            while len(sessions) < order.sessions and starts < STARTS_PER_TURN:
                name = f"{order.name_prefix}{worker.index:02d}{counter:0{NAME_DIGITS}d}"
                counter += 1
                begun = worker.connect(name)
                if isinstance(begun, str):
                    errors[begun] += 1
                    break
                sessions[begun.fd] = begun
                started += 1
                starts += 1
            due = int((now - t0) / interval) + 1 if interval else k + len(chatting)
            if k < due:
                lag_max = max(lag_max, now - (t0 + int(k * interval)))
            while k < due and chatting:
                session = chatting.popleft()
                if session.state is not State.READY:
                    continue
                session.out += spec.line(b"@" + session.name.encode() + b": ", k, t0 + int(k * interval))
                sent += 1
                k += 1
                session.quota -= 1
                if session.quota > 0:
                    chatting.append(session)
                else:
                    leave(session)
        for session in [s for s in sessions.values() if s.out]:
            if not worker.flush(session):
                forget(session, f"send failed while {session.state.value}: {session.why}")
        if now >= next_check:
            next_check = now + 100_000_000
            for session in list(sessions.values()):
                if now - session.t0 > SESSION_TIMEOUT_NS:
                    if session.state is State.LEAVING:
                        forget(session, "the server did not close the connection within 10 s of DISCONNECT")
                    elif session.state in (State.CONNECTING, State.REGISTERING):
                        forget(session, f"no registration within 10 s ({session.state.value})")
        if ending and not sessions and now - last_resident_data >= quiet_ns:
            break
        if now >= drain_deadline:
            for session in list(sessions.values()):
                forget(session, f"session still {session.state.value} when the drain ended")
            break
        for key, _ in worker.selector.select(0.05 if ending else 0.002):
            client: Client = key.data
            if client.fd in residents:
                n = worker.read(client, resident_tally)
                if n > 0:
                    last_resident_data = mono()
                elif n < 0:
                    residents.discard(client.fd)
                    errors[f"resident client lost: {client.why}"[:100]] += 1
                continue
            if client.fd not in sessions:
                continue
            if client.state is State.CONNECTING:
                err = client.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    forget(client, f"connect: {os.strerror(err)}")
                    continue
                client.state = State.REGISTERING
                worker.selector.modify(client.sock, selectors.EVENT_READ, client)
                client.out += b"REGISTER " + client.name.encode() + b" CHAT/1.0\n"
            elif client.state is State.REGISTERING:
                verdict = worker.registration_reply(client, adopt=False)
                if verdict is None:
                    continue
                if verdict:
                    forget(client, verdict)
                    continue
                if len(register_ms) < REGISTER_SAMPLE_CAP:
                    register_ms.append((mono() - client.t0) / 1e6)
                client.quota = order.session_messages
                if ending or client.quota <= 0:
                    leave(client)
                else:
                    chatting.append(client)
            else:
                was = client.state
                if worker.read(client, session_tally) < 0:
                    sessions.pop(client.fd, None)
                    if was is State.LEAVING and client.why.startswith("closed by the server"):
                        completed += 1
                    else:
                        errors[f"session lost while {was.value}: {client.why}"[:100]] += 1
    for tally, who in ((resident_tally, "residents"), (session_tally, "sessions")):
        if tally.foreign or tally.wrong_sender:
            errors[f"malformed or foreign lines received by {who}"] += tally.foreign + tally.wrong_sender
        if tally.stale:
            errors[f"lines of another run received by {who}"] += tally.stale
        for notice, n in tally.notices.items():
            errors[f"server line {notice!r} received by {who}"] += n
    return SoakReport(
        sent=sent,
        resident_got=resident_tally.got,
        session_got=session_tally.got,
        sessions_started=started,
        sessions_completed=completed,
        errors=dict(errors),
        bad_examples=resident_tally.bad_examples + session_tally.bad_examples,
        samples=resident_tally.samples,
        weights=resident_tally.weights,
        max_ns=resident_tally.max_ns,
        register_ms=register_ms,
        send_lag_max_ms=lag_max / 1e6,
        t_end_ns=mono(),
        cpu_s=own_cpu_seconds() - cpu0,
    )
