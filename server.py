#!/usr/bin/env python3
"""Start the CHAT/1.0 server: `python3 server.py` (see --help). Needs nothing installed."""

import sys

from chatroom.server.cli import main

if __name__ == "__main__":
    sys.exit(main())
