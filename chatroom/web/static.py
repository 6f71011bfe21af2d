"""The page's files, read once at start and served from memory.

Read at start so a request never touches the disk (the loop must not block)
and a file changed under a running server is not served half-written. Only
the files in chatroom/web/static/ exist; `/` is index.html.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    content_type: str


class StaticFiles:
    """URL path -> file, for the files of one directory (not its subdirectories)."""

    def __init__(self, directory: Path = STATIC_DIR) -> None:
        self.files: dict[str, StaticFile] = {}
        if directory.is_dir():
            for path in sorted(directory.iterdir()):
                kind = CONTENT_TYPES.get(path.suffix)
                if path.is_file() and kind is not None and not path.name.startswith("."):
                    self.files["/" + path.name] = StaticFile(path.read_bytes(), kind)
        if "/index.html" in self.files:
            self.files["/"] = self.files["/index.html"]

    def get(self, path: str) -> StaticFile | None:
        return self.files.get(path)
