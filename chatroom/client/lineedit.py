"""Line editing without I/O: bytes from a raw terminal in, key events and an edited line out.

`KeyDecoder` turns whatever a terminal sends (split across reads at any byte)
into key events; `LineEditor` applies them to a buffer with a cursor and a
history of this session's lines, and completes the word before the cursor with
Tab. `display_width` says how many terminal columns text takes, so the screen
cursor can be put under the right character.
Nothing here reads, writes or sleeps: chatroom.terminal drives both objects.
"""

from __future__ import annotations

import codecs
import enum
import functools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from chatroom.client.completion import Completer, common_prefix
from chatroom.limits import CHAR_WIDTH_CACHE, HISTORY_LINES, MAX_PASTE_BYTES, MAX_SEQUENCE_BYTES


class Key(enum.Enum):
    ENTER = "enter"
    BACKSPACE = "backspace"
    DELETE = "delete"
    TAB = "tab"
    ESCAPE = "escape"
    LEFT = "left"
    RIGHT = "right"
    UP = "up"
    DOWN = "down"
    HOME = "home"
    END = "end"
    WORD_LEFT = "word-left"  # Ctrl-Left, Alt-Left, Alt-b
    WORD_RIGHT = "word-right"  # Ctrl-Right, Alt-Right, Alt-f
    WORD_RUBOUT = "word-rubout"  # Alt-Backspace
    CTRL_A = "ctrl-a"
    CTRL_B = "ctrl-b"
    CTRL_C = "ctrl-c"
    CTRL_D = "ctrl-d"
    CTRL_E = "ctrl-e"
    CTRL_F = "ctrl-f"
    CTRL_K = "ctrl-k"
    CTRL_L = "ctrl-l"
    CTRL_N = "ctrl-n"
    CTRL_P = "ctrl-p"
    CTRL_U = "ctrl-u"
    CTRL_W = "ctrl-w"
    CTRL_Y = "ctrl-y"
    CTRL_Z = "ctrl-z"


@dataclass(frozen=True)
class Text:
    """Typed characters, decoded (the editor keeps only the printable ones)."""

    text: str


@dataclass(frozen=True)
class Paste:
    """The contents of a bracketed paste, exactly as pasted (may hold newlines)."""

    text: str


KeyEvent = Text | Paste | Key

_CONTROL_KEYS: dict[int, Key] = {
    0x01: Key.CTRL_A,
    0x02: Key.CTRL_B,
    0x03: Key.CTRL_C,
    0x04: Key.CTRL_D,
    0x05: Key.CTRL_E,
    0x06: Key.CTRL_F,
    0x08: Key.BACKSPACE,
    0x09: Key.TAB,
    0x0A: Key.ENTER,
    0x0B: Key.CTRL_K,
    0x0C: Key.CTRL_L,
    0x0D: Key.ENTER,
    0x0E: Key.CTRL_N,
    0x10: Key.CTRL_P,
    0x15: Key.CTRL_U,
    0x17: Key.CTRL_W,
    0x19: Key.CTRL_Y,
    0x1A: Key.CTRL_Z,
    0x7F: Key.BACKSPACE,
}

# Final byte of ESC [ ... or ESC O ... -> key. Modifiers (ESC [ 1 ; 5 C) are read separately.
_CURSOR_FINALS: dict[int, Key] = {
    ord("A"): Key.UP,
    ord("B"): Key.DOWN,
    ord("C"): Key.RIGHT,
    ord("D"): Key.LEFT,
    ord("H"): Key.HOME,
    ord("F"): Key.END,
}

# ESC [ n ~ -> key (vt220 and rxvt numbering both appear in the wild).
_TILDE_KEYS: dict[str, Key] = {"1": Key.HOME, "7": Key.HOME, "4": Key.END, "8": Key.END, "3": Key.DELETE}

# Alt-<byte>, sent as ESC <byte>.
_ALT_KEYS: dict[int, Key] = {
    ord("b"): Key.WORD_LEFT,
    ord("f"): Key.WORD_RIGHT,
    0x7F: Key.WORD_RUBOUT,
    0x08: Key.WORD_RUBOUT,
}

_PASTE_START = "200"
_PASTE_END = b"\x1b[201~"
_TEXT_RUN = re.compile(rb"[\x20-\x7e\x80-\xff]+")


class _State(enum.Enum):
    GROUND = "ground"
    ESCAPE = "after ESC"
    CSI = "in ESC ["
    SS3 = "in ESC O"
    PASTE = "in bracketed paste"


class KeyDecoder:
    """Incremental bytes -> key events; feeding a stream whole or byte by byte gives the same keys.

    Adjacent `Text` events may be split differently depending on where the
    reads fell; their concatenation is the same. A lone ESC is held until the
    next byte shows whether a sequence follows; an unknown or malformed
    sequence is dropped, and the byte that broke it is read as a key of its own.
    """

    def __init__(self) -> None:
        self._state = _State.GROUND
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._sequence = bytearray()
        self._overlong = False  # the sequence outgrew MAX_SEQUENCE_BYTES: ignore it
        self._paste = bytearray()
        self._paste_matched = 0  # bytes of _PASTE_END seen so far
        self._events: list[KeyEvent] = []
        self._text: list[str] = []

    def feed(self, data: bytes) -> list[KeyEvent]:
        index = 0
        end = len(data)
        while index < end:
            if self._state is _State.GROUND:
                run = _TEXT_RUN.match(data, index)
                if run is not None:
                    self._text.append(self._utf8.decode(run.group()))
                    index = run.end()
                    continue
            elif self._state is _State.PASTE:
                index = self._feed_paste(data, index)
                continue
            self._byte(data[index])
            index += 1
        self._flush_text()
        events, self._events = self._events, []
        return events

    def _byte(self, byte: int) -> None:
        state = self._state
        if state is _State.GROUND:
            self._end_utf8()
            if byte == 0x1B:
                self._state = _State.ESCAPE
            elif byte in _CONTROL_KEYS:
                self._emit(_CONTROL_KEYS[byte])
            # Other control bytes (Ctrl-Z, Ctrl-\ with ISIG off...) mean nothing here.
        elif state is _State.ESCAPE:
            if byte == ord("["):
                self._start_sequence(_State.CSI)
            elif byte == ord("O"):
                self._start_sequence(_State.SS3)
            elif byte in _ALT_KEYS:
                self._state = _State.GROUND
                self._emit(_ALT_KEYS[byte])
            elif byte == 0x1B:
                self._emit(Key.ESCAPE)  # and the second ESC may start a sequence
            else:
                self._state = _State.GROUND
                self._emit(Key.ESCAPE)
                self._reprocess(byte)
        elif 0x20 <= byte <= 0x3F:  # parameter or intermediate byte of ESC [ / ESC O
            if len(self._sequence) < MAX_SEQUENCE_BYTES:
                self._sequence.append(byte)
            else:
                self._overlong = True
        elif 0x40 <= byte <= 0x7E:
            self._state = _State.GROUND
            self._finish_sequence(state, byte)
        else:  # a control or non-ASCII byte cannot be part of a sequence: drop it, keep the byte
            self._state = _State.GROUND
            self._reprocess(byte)

    def _reprocess(self, byte: int) -> None:
        if 0x20 <= byte <= 0x7E or byte >= 0x80:
            self._text.append(self._utf8.decode(bytes((byte,))))
        else:
            self._byte(byte)

    def _start_sequence(self, state: _State) -> None:
        self._state = state
        self._sequence.clear()
        self._overlong = False

    def _finish_sequence(self, state: _State, final: int) -> None:
        params = self._sequence.decode("ascii")
        if self._overlong or params[:1] in ("<", "=", ">", "?"):
            return  # garbage, or a private report (mouse, device attributes): not a key
        first, _, modifier = params.partition(";")
        if final in _CURSOR_FINALS:
            key = _CURSOR_FINALS[final]
            # xterm modifiers: 2 Shift, 3 Alt, 5 Ctrl, and their sums 4, 6, 7, 8. Alt or Ctrl: by word.
            if modifier in ("3", "4", "5", "6", "7", "8") and key in (Key.LEFT, Key.RIGHT):
                key = Key.WORD_LEFT if key is Key.LEFT else Key.WORD_RIGHT
            self._emit(key)
        elif final == ord("~") and state is _State.CSI:
            if first == _PASTE_START:
                self._flush_text()
                self._state = _State.PASTE
                self._paste.clear()
                self._paste_matched = 0
            elif first in _TILDE_KEYS:
                self._emit(_TILDE_KEYS[first])
        elif final == ord("M") and state is _State.SS3:
            self._emit(Key.ENTER)  # keypad Enter in application mode

    def _feed_paste(self, data: bytes, index: int) -> int:
        """Consume paste bytes from data[index:]; returns where to continue."""
        end = len(data)
        while index < end:
            if self._paste_matched == 0:
                escape = data.find(b"\x1b", index)
                stop = end if escape < 0 else escape
                self._paste_bytes(data[index:stop])
                index = stop
                if index == end:
                    break
            byte = data[index]
            index += 1
            if byte == _PASTE_END[self._paste_matched]:
                self._paste_matched += 1
                if self._paste_matched == len(_PASTE_END):
                    self._state = _State.GROUND
                    self._emit(Paste(self._paste.decode("utf-8", errors="replace")))
                    self._paste.clear()
                    self._paste_matched = 0
                    break
            else:
                # ESC occurs only first in the end marker, so a mismatch restarts cleanly.
                self._paste_bytes(_PASTE_END[: self._paste_matched])
                self._paste_matched = 0
                if byte == 0x1B:
                    self._paste_matched = 1
                else:
                    self._paste_bytes(bytes((byte,)))
        return index

    def _paste_bytes(self, chunk: bytes) -> None:
        room = MAX_PASTE_BYTES - len(self._paste)
        if room > 0:
            self._paste += chunk[:room]

    def _end_utf8(self) -> None:
        """A non-text byte ends any half-read UTF-8 character (it becomes U+FFFD)."""
        tail = self._utf8.decode(b"", final=True)
        if tail:
            self._text.append(tail)
        self._utf8.reset()

    def _emit(self, event: KeyEvent) -> None:
        self._flush_text()
        self._events.append(event)

    def _flush_text(self) -> None:
        if self._text:
            text = "".join(self._text)
            self._text.clear()
            if text:
                self._events.append(Text(text))


# Display width -------------------------------------------------------------------------


@functools.lru_cache(maxsize=CHAR_WIDTH_CACHE)
def char_width(ch: str) -> int:
    """Terminal columns one code point takes: 2 for wide (CJK, most emoji), 0 for marks."""
    if ch < "\u0300":  # Latin and ASCII: the common case, no table look-up
        return 1 if ch.isprintable() else 0
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf", "Cc"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def display_width(text: str) -> int:
    """Terminal columns `text` takes (for text without control characters)."""
    if text.isascii():
        return len(text)
    return sum(char_width(ch) for ch in text)


def next_boundary(text: str, index: int) -> int:
    """Index after the character at `index` and the zero-width marks that belong to it."""
    end = len(text)
    if index >= end:
        return end
    index += 1
    while index < end and char_width(text[index]) == 0:
        index += 1
    return index


def previous_boundary(text: str, index: int) -> int:
    """Index of the start of the character (with its marks) that ends at `index`."""
    index = min(index, len(text))
    while index > 0:
        index -= 1
        if char_width(text[index]) != 0:
            break
    return index


# The editor -------------------------------------------------------------------------


@dataclass(frozen=True)
class Submitted:
    """Enter on a non-blank line: the line, which is now in the history."""

    text: str


@dataclass(frozen=True)
class QuitRequested:
    """Ctrl-C, or Ctrl-D on an empty line."""


@dataclass(frozen=True)
class ClearRequested:
    """Ctrl-L: clear the screen, keep the line being typed."""


@dataclass(frozen=True)
class SuspendRequested:
    """Ctrl-Z: give the terminal back and stop until continued (fg)."""


@dataclass(frozen=True)
class Refused:
    """The key could not be applied (the line is full): ring the bell."""


@dataclass(frozen=True)
class Completions:
    """Tab could add nothing more to the word: these are what it may become (show them)."""

    options: tuple[str, ...]


EditOutcome = Submitted | QuitRequested | ClearRequested | SuspendRequested | Refused | Completions


def _clean(text: str) -> str:
    """What may go into the buffer: printable characters only; line breaks and tabs become spaces."""
    if text.isprintable():
        return text
    text = text.replace("\r\n", " ").translate({0x0A: " ", 0x0D: " ", 0x09: " "})
    return "".join(ch for ch in text if ch.isprintable())


class LineEditor:
    """A one-line buffer with a cursor, emacs-style keys, and this session's history.

    `max_bytes` bounds the UTF-8 size of the line (the server disconnects a
    client whose line is too long), so typing past it is refused, not sent.
    `completer` says what Tab may complete the word before the cursor to
    (chatroom.client.completion); without one Tab only rings the bell.
    """

    def __init__(
        self,
        max_bytes: int | None = None,
        history_lines: int = HISTORY_LINES,
        completer: Completer | None = None,
    ) -> None:
        self.completer = completer
        self.text = ""
        self.cursor = 0  # index into text, always on a character boundary
        self.max_bytes = max_bytes
        self._history_lines = history_lines
        self._history: list[str] = []
        # While browsing: history copies (edits to recalled lines live here until Enter),
        # the line that was being typed as the last entry, and which one is shown.
        self._entries: list[str] = []
        self._position = 0
        self._killed = ""

    @property
    def history(self) -> list[str]:
        return list(self._history)

    def handle(self, event: KeyEvent) -> EditOutcome | None:
        """Apply one key; say what the caller has to do beyond redrawing the line."""
        if isinstance(event, Text | Paste):
            return self.insert(event.text)
        action = _KEY_ACTIONS.get(event)
        return action(self) if action is not None else None

    # Editing ---------------------------------------------------------------------------

    def insert(self, text: str) -> Refused | None:
        text = _clean(text)
        refused: Refused | None = None
        if self.max_bytes is not None:
            room = self.max_bytes - len(self.text.encode())
            encoded = text.encode()
            if len(encoded) > room:
                text = encoded[: max(room, 0)].decode(errors="ignore")
                refused = Refused()
        if text:
            self.text = self.text[: self.cursor] + text + self.text[self.cursor :]
            self.cursor += len(text)
            # Marks right after the cursor now belong to what was typed: stay after them.
            while self.cursor < len(self.text) and char_width(self.text[self.cursor]) == 0:
                self.cursor += 1
        return refused

    def backspace(self) -> None:
        if self.cursor > 0:
            start = previous_boundary(self.text, self.cursor)
            self.text = self.text[:start] + self.text[self.cursor :]
            self.cursor = start

    def delete(self) -> None:
        if self.cursor < len(self.text):
            end = next_boundary(self.text, self.cursor)
            self.text = self.text[: self.cursor] + self.text[end:]

    def left(self) -> None:
        self.cursor = previous_boundary(self.text, self.cursor)

    def right(self) -> None:
        self.cursor = next_boundary(self.text, self.cursor)

    def home(self) -> None:
        self.cursor = 0

    def end(self) -> None:
        self.cursor = len(self.text)

    def word_left(self) -> None:
        self.cursor = self._word_start()

    def word_right(self) -> None:
        index, end = self.cursor, len(self.text)
        while index < end and self.text[index].isspace():
            index += 1
        while index < end and not self.text[index].isspace():
            index += 1
        self.cursor = index

    def kill_to_start(self) -> None:
        self._kill(0, self.cursor)

    def kill_to_end(self) -> None:
        self._kill(self.cursor, len(self.text))

    def kill_word(self) -> None:
        self._kill(self._word_start(), self.cursor)

    def yank(self) -> Refused | None:
        return self.insert(self._killed)

    def complete(self) -> Refused | Completions | None:
        """Tab: one match replaces the word (and a space follows); several, their common start;
        when that adds nothing, the matches are returned to be shown. No match rings the bell."""
        start = self.cursor
        while start > 0 and not self.text[start - 1].isspace():
            start -= 1
        word = self.text[start : self.cursor]
        options = self.completer(self.text[:start], word) if self.completer is not None else []
        if not options:
            return Refused()
        if len(options) == 1:
            if self.text[self.cursor : self.cursor + 1] == " ":  # a space follows already: step over it
                refused = self._replace(start, options[0])
                self.cursor += 0 if refused else 1
                return refused
            return self._replace(start, options[0] + " ")
        prefix = common_prefix(options)
        if len(prefix) > len(word):
            return self._replace(start, prefix)
        return Completions(tuple(options))

    def _replace(self, start: int, word: str) -> Refused | None:
        """The text from `start` to the cursor becomes `word`, unless the line would grow too long."""
        text = self.text[:start] + word + self.text[self.cursor :]
        if self.max_bytes is not None and len(text.encode()) > self.max_bytes:
            return Refused()
        self.text, self.cursor = text, start + len(word)
        return None

    def _word_start(self) -> int:
        index = self.cursor
        while index > 0 and self.text[index - 1].isspace():
            index -= 1
        while index > 0 and not self.text[index - 1].isspace():
            index -= 1
        while 0 < index < len(self.text) and char_width(self.text[index]) == 0:
            index -= 1  # a mark on a space: keep it with its space
        return index

    def _kill(self, start: int, end: int) -> None:
        if start < end:
            self._killed = self.text[start:end]
            self.text = self.text[:start] + self.text[end:]
            self.cursor = start

    # Lines -----------------------------------------------------------------------------

    def submit(self) -> Submitted | None:
        text = self.text
        self._set("")
        self._entries = []
        if not text.strip():
            return None
        if not self._history or self._history[-1] != text:
            self._history.append(text)
            del self._history[: -self._history_lines]
        return Submitted(text)

    def history_up(self) -> None:
        if not self._entries:
            self._entries = [*self._history, self.text]
            self._position = len(self._history)
        if self._position > 0:
            self._entries[self._position] = self.text
            self._position -= 1
            self._set(self._entries[self._position])

    def history_down(self) -> None:
        if self._entries and self._position < len(self._entries) - 1:
            self._entries[self._position] = self.text
            self._position += 1
            self._set(self._entries[self._position])

    def ctrl_d(self) -> QuitRequested | None:
        if not self.text:
            return QuitRequested()
        self.delete()
        return None

    def _set(self, text: str) -> None:
        self.text = text
        self.cursor = len(text)


def _quit(editor: LineEditor) -> QuitRequested:
    return QuitRequested()


def _clear(editor: LineEditor) -> ClearRequested:
    return ClearRequested()


def _suspend(editor: LineEditor) -> SuspendRequested:
    return SuspendRequested()


def _ignore(editor: LineEditor) -> None:
    return None


_KEY_ACTIONS: dict[Key, Callable[[LineEditor], EditOutcome | None]] = {
    Key.ENTER: LineEditor.submit,
    Key.BACKSPACE: LineEditor.backspace,
    Key.DELETE: LineEditor.delete,
    Key.TAB: LineEditor.complete,
    Key.ESCAPE: _ignore,
    Key.LEFT: LineEditor.left,
    Key.CTRL_B: LineEditor.left,
    Key.RIGHT: LineEditor.right,
    Key.CTRL_F: LineEditor.right,
    Key.UP: LineEditor.history_up,
    Key.CTRL_P: LineEditor.history_up,
    Key.DOWN: LineEditor.history_down,
    Key.CTRL_N: LineEditor.history_down,
    Key.HOME: LineEditor.home,
    Key.CTRL_A: LineEditor.home,
    Key.END: LineEditor.end,
    Key.CTRL_E: LineEditor.end,
    Key.WORD_LEFT: LineEditor.word_left,
    Key.WORD_RIGHT: LineEditor.word_right,
    Key.WORD_RUBOUT: LineEditor.kill_word,
    Key.CTRL_W: LineEditor.kill_word,
    Key.CTRL_U: LineEditor.kill_to_start,
    Key.CTRL_K: LineEditor.kill_to_end,
    Key.CTRL_Y: LineEditor.yank,
    Key.CTRL_D: LineEditor.ctrl_d,
    Key.CTRL_C: _quit,
    Key.CTRL_L: _clear,
    Key.CTRL_Z: _suspend,
}
