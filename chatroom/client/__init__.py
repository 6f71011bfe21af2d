"""The terminal client: one session logic, shown by the line client, the line editor or the full screen."""
