"""The network layer: the event loop, listeners, connections and the byte transports under them."""
