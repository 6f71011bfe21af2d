"""What the tests share, one module per kind of thing.

`peer` is a raw CHAT/1.0 peer, `processes` runs the real programs as children,
and `procfs` reads facts from /proc. Nothing here sleeps for a fixed time:
every wait is for an event (a line, a log line, a closed socket) with a
deadline that is only reached when a test fails.
"""
