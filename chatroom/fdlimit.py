"""The process's descriptor limit: every client costs one, in the server and in the load generator."""

from __future__ import annotations


def raise_fd_limit() -> int:
    """Raise the soft descriptor limit to the hard one; returns the limit in force (-1: unknown)."""
    try:
        import resource
    except ImportError:  # not on every platform
        return -1
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return -1 if soft == resource.RLIM_INFINITY else soft
