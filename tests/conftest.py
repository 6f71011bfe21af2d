"""Shared fixtures: the real server and client as child processes (see helpers.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from support.processes import REPO_ROOT, ClientFactory, ServerFactory, ServerProcess

# The tests import chatroom from this checkout, installed or not.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


@pytest.fixture
def start_server() -> Iterator[ServerFactory]:
    """start_server(*extra_args) runs `server.py --port 0 *extra_args`; all are stopped (SIGINT,
    exit status 0, no traceback) after the test."""
    factory = ServerFactory()
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture
def server(start_server: ServerFactory) -> ServerProcess:
    """A server with the default settings on a port the OS picked."""
    return start_server()


@pytest.fixture
def start_client() -> Iterator[ClientFactory]:
    """start_client(*args) runs `client.py *args` with pipes; killed after the test if still running."""
    factory = ClientFactory()
    try:
        yield factory
    finally:
        factory.stop_all()
