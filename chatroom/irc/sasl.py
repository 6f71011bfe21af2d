"""SASL PLAIN for IRC clients (IRCv3 sasl-3.1), without I/O: AUTHENTICATE parameters in, steps out.

The password is not checked here. A complete response becomes a `Login`,
which the codec hands to the server as an `Authenticate` request: the
accounts check it as they check a CHAT/1.1 registration's password (scrypt on
the store's thread, the same failure counts), and the codec then answers
900/903 or 904. Our user names are the accounts, so the login names the
account and the user registers under that name (docs/IRC.md, "SASL").
"""

from __future__ import annotations

import binascii
import enum
from base64 import b64decode
from dataclasses import dataclass, field

from chatroom.limits import IRC_MAX_SASL_RESPONSE_BYTES, IRC_SASL_CHUNK_BYTES, MAX_PASSWORD_BYTES
from chatroom.protocol.names import is_valid_username, username_key

MECHANISMS = ("PLAIN",)


class State(enum.Enum):
    IDLE = "idle"  # no exchange: the next AUTHENTICATE names a mechanism
    RESPONSE = "response"  # "AUTHENTICATE +" sent: gathering the client's response chunks


@dataclass(frozen=True, slots=True)
class Challenge:
    """Send `AUTHENTICATE +`: PLAIN's empty challenge, asking for the response."""


@dataclass(frozen=True, slots=True)
class Failed:
    """The exchange is over without a login: answer `code` (904, 905 or 906), and 908 when `mechanisms`."""

    code: str
    sentence: str
    mechanisms: bool = False


@dataclass(frozen=True, slots=True)
class Login:
    """A complete PLAIN response: `name` (the authcid) claims to be its account with `password`."""

    name: str
    password: str = field(repr=False)


Step = Challenge | Failed | Login | None  # None: a chunk of exactly 400 bytes; more follows


class PlainExchange:
    """One connection's SASL exchanges, one at a time; a failed one may be started again."""

    def __init__(self) -> None:
        self.state = State.IDLE
        self._response: list[str] = []
        self._size = 0

    @property
    def under_way(self) -> bool:
        return self.state is State.RESPONSE

    def abort(self) -> None:
        self.state = State.IDLE
        self._response.clear()
        self._size = 0

    def step(self, param: str) -> Step:
        """What one `AUTHENTICATE param` asks for."""
        if param == "*":
            self.abort()
            return Failed("906", "SASL authentication aborted")
        if self.state is State.IDLE:
            if param.upper() not in MECHANISMS:
                return Failed("904", "SASL authentication failed: unknown mechanism", mechanisms=True)
            self.state = State.RESPONSE
            return Challenge()
        if len(param) > IRC_SASL_CHUNK_BYTES:
            self.abort()
            return Failed("905", "SASL message too long")
        self._size += len(param)
        if self._size > IRC_MAX_SASL_RESPONSE_BYTES:
            self.abort()
            return Failed("904", "SASL authentication failed: response too long")
        if param != "+":
            self._response.append(param)
        if len(param) == IRC_SASL_CHUNK_BYTES:
            return None
        response = "".join(self._response)
        self.abort()
        return _plain(response)


def _plain(response: str) -> Login | Failed:
    """RFC 4616: base64 of `[authzid] NUL authcid NUL passwd`."""
    try:
        message = b64decode(response, validate=True)
        authzid, authcid, password = message.decode("utf-8").split("\0")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return Failed("904", "SASL authentication failed: not a PLAIN response")
    if not authcid or not password or len(password.encode()) > MAX_PASSWORD_BYTES:
        return Failed("904", "SASL authentication failed: a name and a password are needed")
    if authzid and username_key(authzid) != username_key(authcid):
        return Failed("904", "SASL authentication failed: you may log in only as yourself")
    if not is_valid_username(authcid):
        return Failed("904", f"SASL authentication failed: no account {authcid}")
    return Login(authcid, password)
