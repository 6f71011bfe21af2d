"""chatroom-bench: a load generator and report for any CHAT/1.0 server.

Modules, each named for what it holds:

- cli: the command line; options: settings and their defaults
- runner: the worker pool, a server per measurement, sampling, warnings
- fanout, scale, soak, rooms: the four workloads (the coordinator's side)
- pool, orders: worker processes and the messages to and from them
- loadgen, churn, joins: a worker's client sockets and its loops (the generator's side)
- body: the benchmark's chat lines and how received lines are checked
- stats: weighted latency percentiles
- target, procstat, oslimits, errors: the server under test, /proc, OS limits, the user-facing error
- results, report, plot, progress: numbers, tables and JSON, the chart, stderr progress
"""

from chatroom.bench.cli import main

__all__ = ["main"]
