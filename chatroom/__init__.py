"""chatroom: a CHAT/1.0 chat room server and terminal client on the standard library."""

__version__ = "0.1.0"
