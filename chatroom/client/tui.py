"""`chatroom-client --tui`: the full-screen client, if the optional Textual extra is installed.

This module only checks for Textual and runs the app; the app itself lives in
chatroom.client.tui_app, which imports Textual at the top. Keeping them apart means
`import chatroom.client.tui` works on a bare Python, and a missing extra costs the
user one sentence instead of a traceback.
"""

from __future__ import annotations

import functools
import ssl
import sys
from typing import TextIO

from chatroom.client.exitcodes import EXIT_FAILURE, EXIT_USAGE
from chatroom.protocol import VERSION_1_1, Credentials
from chatroom.protocol.address import ChatAddress

MISSING_TEXTUAL = "The full-screen mode needs Textual: pip install 'chatroom[tui]'"

_TEXTUAL_PACKAGES = frozenset({"textual", "rich"})


def textual_missing(error: ImportError) -> bool:
    """Whether `error` says the Textual extra is absent (rather than a bug in our own import)."""
    return (error.name or "").partition(".")[0] in _TEXTUAL_PACKAGES


def run_tui(
    username: str,
    address: ChatAddress,
    stderr: TextIO | None = None,
    *,
    version: bytes = VERSION_1_1,
    credentials: Credentials | None = None,
    tls: ssl.SSLContext | None = None,
) -> int:
    """Chat as `username` on `address` full screen, asking for protocol `version`; returns the exit status.

    0 when the user leaves or the server says DISCONNECT, 1 when the user quits
    after the connection failed, was refused or was lost, 2 without Textual.
    """
    err = stderr if stderr is not None else sys.stderr
    try:
        from chatroom.client.tui_app import ChatApp, open_streams
    except ImportError as error:
        if not textual_missing(error):
            raise
        print(MISSING_TEXTUAL, file=err)
        return EXIT_USAGE
    app = ChatApp(
        username, address, functools.partial(open_streams, tls=tls), version=version, credentials=credentials
    )
    status = app.run()
    # The screen is back to what it was; leave the last word where the user can read it.
    if app.farewell is not None:
        print(app.farewell.text, file=err if app.farewell.error else sys.stdout)
    return status if status is not None else EXIT_FAILURE
