"""What the server keeps on disk: the rooms' chat history (`history.py`), written off the loop's thread."""
