"""python -m chatroom.bench: the same as chatroom-bench."""

import sys

from chatroom.bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
