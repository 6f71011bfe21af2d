"""CHAT/1.0 and CHAT/1.1 without I/O: bytes in, events and bytes out.

Nothing in this package touches a socket, a selector, a clock or a terminal.
The server, the client, the benchmark and the fuzz tests all drive these
objects, so the protocol is written down once. docs/PROTOCOL.md is the prose
version. The modules: `framing` (bounded lines), `names` (valid and unique user
names), `lines` (fixed replies, builders and parsers), `server_side` and
`client_side` (the two ends of a connection), `address` (chat:// URLs).
"""

from chatroom.protocol.client_side import (
    ClientConnection,
    ClientEvent,
    ClientState,
    ConnectionLost,
    Incoming,
    Registered,
    RegistrationRefused,
    ServerClosing,
)
from chatroom.protocol.framing import LineFramer
from chatroom.protocol.lines import (
    ALREADY_REGISTERED,
    INVALID_MESSAGE,
    INVALID_REGISTRATION,
    LINE_TOO_LONG,
    NOT_YOUR_NAME,
    REGISTERED,
    REGISTRATION_TIMEOUT,
    SERVER_DISCONNECT,
    TOO_MANY_CONNECTIONS,
    VERSION,
    VERSION_1_1,
    Credentials,
    LocalProtocolError,
    Registration,
    chat_prefix,
    disconnect_line,
    is_clean_text,
    is_disconnect_line,
    parse_register,
    parse_registration,
    password_option,
    register_line,
    server_disconnect_line,
    split_chat_line,
)
from chatroom.protocol.names import is_valid_username, username_key
from chatroom.protocol.server_side import (
    ChatMessage,
    LeaveRequest,
    Refusal,
    RegisterRequest,
    RoomMessage,
    ServerConnection,
    ServerEvent,
    ServerState,
)

__all__ = [
    "ALREADY_REGISTERED",
    "INVALID_MESSAGE",
    "INVALID_REGISTRATION",
    "LINE_TOO_LONG",
    "NOT_YOUR_NAME",
    "REGISTERED",
    "REGISTRATION_TIMEOUT",
    "SERVER_DISCONNECT",
    "TOO_MANY_CONNECTIONS",
    "VERSION",
    "VERSION_1_1",
    "ChatMessage",
    "ClientConnection",
    "ClientEvent",
    "ClientState",
    "ConnectionLost",
    "Credentials",
    "Incoming",
    "LeaveRequest",
    "LineFramer",
    "LocalProtocolError",
    "Refusal",
    "RegisterRequest",
    "Registered",
    "Registration",
    "RegistrationRefused",
    "RoomMessage",
    "ServerClosing",
    "ServerConnection",
    "ServerEvent",
    "ServerState",
    "chat_prefix",
    "disconnect_line",
    "is_clean_text",
    "is_disconnect_line",
    "is_valid_username",
    "parse_register",
    "parse_registration",
    "password_option",
    "register_line",
    "server_disconnect_line",
    "split_chat_line",
    "username_key",
]
