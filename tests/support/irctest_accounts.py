"""An irctest controller for irctest's SASL tests (`services`): accounts are our protected names.

irctest registers an account through the server's "services" (NickServ); ours
are names claimed over CHAT/1.1 (docs/PROTOCOL.md section 9). This controller
is ../shared/irctest's generic one, plus a CHAT port for the server and a
`registerUser` that claims the name there, from loopback. Not a pytest test:
run it as docs/IRC.md ("irctest") shows, with this directory on PYTHONPATH.
"""
# mypy: ignore-errors
# (irctest is not installed in the project's environment; only its own venv has it)

from __future__ import annotations

import base64
import os
import socket

from generic_controller import GenericServerController
from irctest.runner import NotImplementedByController

MAX_PASSWORD_BYTES = 256  # chatroom.limits.MAX_PASSWORD_BYTES: longer ones cannot be claimed


class ChatroomAccountsController(GenericServerController):
    software_name = "chatroom"
    supported_sasl_mechanisms = frozenset({"PLAIN"})

    def run(self, hostname, port, *, run_services, **kwargs):
        """The generic command plus `--port N`: the CHAT port registerUser claims names on."""
        self.chat_port = port
        while self.chat_port == port:  # irctest let go of its port to reserve it: the OS may offer it again
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                self.chat_port = probe.getsockname()[1]
        template = os.environ["IRCTEST_SERVER_CMD"]
        os.environ["IRCTEST_SERVER_CMD"] = f"{template} --port {self.chat_port}"
        try:
            super().run(hostname, port, run_services=False, **kwargs)
        finally:
            os.environ["IRCTEST_SERVER_CMD"] = template

    def wait_for_services(self):
        """Our accounts are in the server itself: up when its port is."""
        self.wait_for_port()

    def registerUser(self, case, username, password=None):
        if password is None or len(password.encode()) > MAX_PASSWORD_BYTES:
            raise NotImplementedByController(f"passwords of 1 to {MAX_PASSWORD_BYTES} bytes only")
        self.wait_for_port()
        encoded = base64.b64encode(password.encode()).decode()
        with socket.create_connection(("127.0.0.1", self.chat_port), timeout=5) as sock:
            sock.sendall(f"REGISTER {username} CHAT/1.1 replay=0 password={encoded} claim=yes\n".encode())
            reply = sock.makefile("rb").readline()
            if not reply.startswith(b"200 "):
                raise AssertionError(f"claiming {username}: {reply!r}")
            sock.sendall(f"DISCONNECT {username} CHAT/1.1\n".encode())
            while sock.recv(4096):
                pass


def get_irctest_controller_class() -> type[ChatroomAccountsController]:
    return ChatroomAccountsController
