"""The server: wires the hub (who hears what) to the network layer (sockets, loop, listeners)."""
