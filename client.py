#!/usr/bin/env python3
"""Start the CHAT/1.0 client: `python3 client.py alice chat://localhost:54307` (see --help)."""

import sys

from chatroom.client.cli import main

if __name__ == "__main__":
    sys.exit(main())
