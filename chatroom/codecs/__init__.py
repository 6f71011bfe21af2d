"""Wire protocols as the hub sees them: bytes to requests, messages to bytes, one module per protocol."""
