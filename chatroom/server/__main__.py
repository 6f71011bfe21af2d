"""`python3 -m chatroom.server`: the same as `python3 server.py`."""

import sys

from chatroom.server.cli import main

sys.exit(main())
