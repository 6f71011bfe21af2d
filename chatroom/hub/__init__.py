"""Who hears what: users, rooms and the routing of messages, with no sockets and no wire bytes."""
