"""A load-generator worker process: it serves the coordinator's orders one by one.

It sits above every kind of work it runs (chatroom.bench.loadgen's ramps and
phases, chatroom.bench.churn's soak, chatroom.bench.joins' room joins, chatroom.bench.setups), so none
of those imports the other's caller.
"""

from __future__ import annotations

import contextlib
import os
import signal
import traceback
from multiprocessing.connection import Connection

from chatroom.bench.churn import soak
from chatroom.bench.joins import join
from chatroom.bench.loadgen import Worker
from chatroom.bench.orders import Close, Join, Phase, Ramp, Setups, Soak, WorkerFailure
from chatroom.bench.setups import run_setups
from chatroom.fdlimit import raise_fd_limit


def worker_main(pipe: Connection, index: int, cpus: frozenset[int] | None) -> None:
    """A worker process: serve orders from the coordinator until it sends None or goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the coordinator's to handle
    if cpus:
        with contextlib.suppress(OSError, AttributeError):
            os.sched_setaffinity(0, cpus)
    raise_fd_limit()
    worker = Worker(index)

    while True:
        try:
            order = pipe.recv()
        except (EOFError, OSError):
            break
        if order is None:
            break
        reply: object
        try:
            if isinstance(order, Ramp):
                reply = worker.ramp(order)
            elif isinstance(order, Phase):
                reply = worker.phase(order)
            elif isinstance(order, Soak):
                reply = soak(worker, order)
            elif isinstance(order, Join):
                reply = join(worker, order)
            elif isinstance(order, Setups):
                reply = run_setups(order)
            elif isinstance(order, Close):
                reply = worker.close(order)
            else:
                reply = WorkerFailure(f"unknown order {order!r}")
        except Exception as error:  # reported to the coordinator, never a hang
            reply = WorkerFailure(f"{type(error).__name__}: {error}", traceback.format_exc()[-3000:])
        try:
            pipe.send(reply)
        except (BrokenPipeError, OSError):
            break
    for client in worker.clients:
        worker.drop(client, count=False)
