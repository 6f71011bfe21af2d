"""The one exception a user mistake or an unusable environment raises: its message is the whole story."""

from __future__ import annotations


class BenchError(Exception):
    """A problem the user can act on (bad option, server unreachable); printed as one sentence."""
