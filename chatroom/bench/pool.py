"""The load-generator worker processes and the pipes to them.

Workers are started with the 'spawn' method (a fresh interpreter each, no
inherited sockets or locks) and pinned to --lg-cpus when given. An order is
sent to every worker at once, and the replies are awaited with a deadline,
calling `tick` a few times a second meanwhile so the caller can sample the
server and draw progress.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import time
from collections.abc import Callable, Sequence
from multiprocessing.process import BaseProcess
from typing import TypeVar

from chatroom.bench.errors import BenchError
from chatroom.bench.orders import WorkerFailure
from chatroom.bench.worker import worker_main

R = TypeVar("R")

TICK_S = 0.1


class WorkerPool:
    def __init__(self, count: int, cpus: frozenset[int] | None) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes: list[multiprocessing.connection.Connection] = []
        self.processes: list[BaseProcess] = []
        for index in range(count):
            ours, theirs = context.Pipe()
            process = context.Process(
                target=worker_main,
                args=(theirs, index, cpus),
                name=f"chatroom-bench-worker-{index}",
                daemon=True,
            )
            process.start()
            theirs.close()
            self.pipes.append(ours)
            self.processes.append(process)

    def __len__(self) -> int:
        return len(self.pipes)

    def call(
        self,
        orders: Sequence[object],
        reply_type: type[R],
        timeout: float,
        tick: Callable[[], None] | None = None,
    ) -> list[R]:
        """Send orders[i] to worker i and wait (at most `timeout` s) for every reply."""
        for pipe, order in zip(self.pipes, orders, strict=True):
            pipe.send(order)
        replies: dict[int, object] = {}
        deadline = time.monotonic() + timeout
        waiting = dict(enumerate(self.pipes))
        while waiting:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError(
                    f"load-generator worker(s) {sorted(waiting)} did not answer within {timeout:.0f} s"
                )
            ready = multiprocessing.connection.wait(list(waiting.values()), min(TICK_S, left))
            for index, pipe in list(waiting.items()):
                if pipe in ready:
                    try:
                        replies[index] = pipe.recv()
                    except (EOFError, OSError):
                        replies[index] = WorkerFailure("the worker process died")
                    del waiting[index]
                elif not self.processes[index].is_alive():
                    replies[index] = WorkerFailure(
                        f"the worker process exited with status {self.processes[index].exitcode}"
                    )
                    del waiting[index]
            if tick is not None:
                tick()
        out: list[R] = []
        for index in range(len(self.pipes)):
            reply = replies[index]
            if isinstance(reply, WorkerFailure):
                detail = f"\n{reply.trace}" if reply.trace else ""
                raise BenchError(f"load-generator worker {index} failed: {reply.message}{detail}")
            if not isinstance(reply, reply_type):
                raise BenchError(f"load-generator worker {index} answered {type(reply).__name__}")
            out.append(reply)
        return out

    def close(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError, ValueError):
                pipe.send(None)
        for process in self.processes:
            process.join(5)
            if process.is_alive():
                process.terminate()  # our own child, by its handle
                process.join(5)
        for pipe in self.pipes:
            pipe.close()
