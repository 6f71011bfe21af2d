"""`python3 -m chatroom.client`: the same as `python3 client.py`."""

import sys

from chatroom.client.line import main

sys.exit(main())
