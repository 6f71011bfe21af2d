"""The web gateway (issue #11): HTTP for the page, and WebSocket connections that become chat clients.

`http` parses request heads (no I/O), `static` holds the page's files,
`websocket` is the transport that turns one text frame into one protocol line
and back, and `gateway` drives HTTP connections in the server's loop until
they are answered or upgraded. Only `websocket` and `gateway` need wsproto.
"""
