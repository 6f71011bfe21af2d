"""`python3 -m chatroom.client`: the same as `python3 client.py`."""

import sys

from chatroom.client.cli import main

sys.exit(main())
