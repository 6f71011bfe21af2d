"""The client's exit statuses: what a script that runs the client can rely on.

In their own module because every frontend (the line client, the full screen)
and the command line report them, and none of those should import another.
"""

EXIT_OK = 0
# The user left (Ctrl-D, Ctrl-C, !exit, a leave signal) or the server said DISCONNECT.

EXIT_FAILURE = 1
# Connecting failed, registration was refused or timed out, or the connection was lost.

EXIT_USAGE = 2
# A bad command line (username, address), or --tui without the Textual extra.
