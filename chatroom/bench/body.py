"""The benchmark's chat lines: how they are built, and how received ones are checked.

Every line a benchmark client sends is

    @<name>: |<step>|<seq:9 digits>|<send time ns:20 digits>|xxx...

padded to a fixed body length, and every sender of one phase has a name of
the same length, so every line of a phase is exactly `LineSpec.length` bytes.
That lets a receiver check a whole chunk of lines without splitting it
(`LineSpec.count_whole`): the chunk is a whole number of lines, and for each
position that is the same in every line ('@', the senders' name prefix,
': |<step>|', the separators, both ends of the padding, the LF) one strided
slice `chunk[offset::length]` holds that byte of every line, checked at C
speed. Only a chunk that fails this is split into lines
(`LineSpec.classify`). The send time is the message's *scheduled* time, so a
sender that falls behind shows up as latency, not as a lower rate.

In the rooms workload some lines are private: the sender writes
`@<name>: !msg <user> |<step>|...`, the user receives
`@<name> (private): |<step>|...` (the same body, so the same checks and
times, once the tag is taken out: `as_room_line`), and the sender gets
`215 Sent to <user>.` (a RECEIPT). Those lines have another length, so
their chunks are judged line by line.
"""

from __future__ import annotations

import enum
import secrets
import string

SEQ_DIGITS = 9
TS_DIGITS = 20
DEFAULT_BODY_BYTES = 96
# About a line of typed chat. peerbench uses the same size, so figures compare.

_RUN = 4096
# Most lines count_whole checks at once (a chunk of more is judged line by
# line); receive buffers hold far fewer (80 KiB / 55-byte minimum lines).

SENDER_ROLE = "s"  # fanout senders
RECEIVER_ROLE = "r"  # everyone else who stays for the whole run
SESSION_ROLE = "c"  # soak clients that come and go
MEMBER_ROLE = "m"  # rooms: every user, sender or not

PRIVATE_TAG = b" (private)"
# What the server puts after the sender's name in a private line
# ('@alice (private): text', docs/PROTOCOL.md 6.4); the text is the body as sent.
RECEIPT = b"215 Sent to "
# The server's answer to the sender of a private line ('215 Sent to NAME.').


def run_tag() -> str:
    """Four characters that start every name this run uses, so two runs on one server do not collide."""
    alphabet = string.ascii_lowercase + string.digits
    return "b" + "".join(secrets.choice(alphabet) for _ in range(3))


def client_name(tag: str, role: str, index: int, digits: int) -> str:
    return f"{tag}{role}{index:0{digits}d}"


def header(step: int, seq: int, ts_ns: int) -> bytes:
    return b"|%d|%09d|%020d|" % (step, seq, ts_ns)


def body(step: int, seq: int, ts_ns: int, body_bytes: int) -> bytes:
    head = header(step, seq, ts_ns)
    return head + b"x" * max(0, body_bytes - len(head))


class LineKind(enum.Enum):
    OK = "well-formed line of this phase"
    PRIVATE = "well-formed private line of this phase"
    RECEIPT = "the server's receipt for a private line sent"
    STALE = "benchmark line of an earlier phase"
    FOREIGN = "line not sent by this benchmark"
    NOTICE = "server notice"


class LineSpec:
    """The shape of one phase's lines: step, senders' name prefix and length, body length.

    `senders` > 0 also checks that message `seq` came from sender `seq % senders`
    (how the fanout and scale workloads assign messages); 0 skips that check.
    """

    __slots__ = (
        "step",
        "name_prefix",
        "name_len",
        "body_bytes",
        "senders",
        "length",
        "marker",
        "line_prefix",
        "next_line_prefix",
        "index_at",
        "seq_at",
        "ts_at",
        "pad_nl",
        "pad_len",
        "fixed",
        "digits",
    )

    def __init__(self, step: int, name_prefix: str, name_len: int, body_bytes: int, senders: int = 0) -> None:
        self.step = step
        self.name_prefix = name_prefix
        self.name_len = name_len
        self.body_bytes = body_bytes
        self.senders = senders
        head_len = len(header(step, 0, 0))
        self.length = 1 + name_len + 2 + max(body_bytes, head_len) + 1
        self.marker = b": |%d|" % step
        self.line_prefix = b"@" + name_prefix.encode()
        self.next_line_prefix = b"\n" + self.line_prefix
        self.index_at = 1 + len(name_prefix)  # the sender's number in its name
        body_at = 1 + name_len + 2
        self.seq_at = body_at + len(b"|%d|" % step)
        self.ts_at = self.seq_at + SEQ_DIGITS + 1
        self.pad_len = max(0, body_bytes - head_len)
        self.pad_nl = b"x" * self.pad_len + b"\n"
        # What count_whole checks in every line: the bytes that are the same in
        # all of them (the '@' and name prefix, ': |<step>|', the field
        # separators, both ends of the padding, the LF), and that the sender's
        # number is digits. Only the sequence and time digits go unchecked.
        template = self.line(b"@" + name_prefix.encode() + b"0" * (name_len - len(name_prefix)) + b": ", 0, 0)
        pad_at = self.ts_at + TS_DIGITS + 1
        positions = [0, *range(1, self.index_at)]  # '@' and the name prefix
        positions += [*range(body_at - 2, self.seq_at), self.seq_at + SEQ_DIGITS, pad_at - 1]
        if self.pad_len:
            positions += [pad_at, pad_at + self.pad_len - 1]
        positions.append(self.length - 1)
        self.fixed = [(at, template[at : at + 1] * _RUN) for at in positions]
        self.digits = list(range(self.index_at, 1 + name_len))

    def line(self, name_colon: bytes, seq: int, ts_ns: int) -> bytes:
        """The whole line for sender `name_colon` (b'@name: ') with its LF."""
        return b"%s|%d|%09d|%020d|%s" % (name_colon, self.step, seq, ts_ns, self.pad_nl)

    def count_whole(self, buf: bytes | bytearray, end: int) -> int:
        """How many lines buf[:end] holds, when all are well-formed lines of this phase; else -1.

        buf[:end] must be whole lines (end just after an LF).
        """
        length = self.length
        lines, rest = divmod(end, length)
        if rest or not lines:
            return -1
        # buf[offset:end:length] is the byte at `offset` of every line: one
        # C-speed pass per checked position, about 1.5 ns per line each.
        if lines > _RUN:
            return -1
        for offset, run in self.fixed:
            if buf[offset:end:length] != run[:lines]:
                return -1
        for offset in self.digits:
            if not buf[offset:end:length].isdigit():
                return -1
        return lines

    def ts(self, buf: bytes | bytearray, start: int) -> int:
        """The send time of the line starting at `start` (a line count_whole accepted)."""
        return int(buf[start + self.ts_at : start + self.ts_at + TS_DIGITS])

    def sender_matches(self, buf: bytes | bytearray, start: int) -> bool:
        """Whether the line at `start` came from the sender its sequence number belongs to."""
        if not self.senders:
            return True
        index = int(buf[start + self.index_at : start + 1 + self.name_len])
        seq = int(buf[start + self.seq_at : start + self.seq_at + SEQ_DIGITS])
        return index == seq % self.senders

    def classify(self, line: bytes) -> LineKind:
        """Judge one line (without its LF) that count_whole did not accept as part of a chunk."""
        if line.startswith(RECEIPT):
            return LineKind.RECEIPT
        if line.startswith(b"@") and line.partition(b": ")[0].endswith(PRIVATE_TAG):
            kind = self.classify(as_room_line(line))
            return LineKind.PRIVATE if kind is LineKind.OK else kind
        if not line.startswith(b"@"):
            return LineKind.NOTICE if _looks_like_notice(line) else LineKind.FOREIGN
        name, sep, text = line[1:].partition(b": ")
        if not sep or not name.startswith(self.name_prefix.encode()):
            return LineKind.FOREIGN
        fields = text.split(b"|")
        # b'|1|000000001|000...|xxx' splits into ['', step, seq, ts, pad]
        if len(fields) != 5 or fields[0] or not all(f.isdigit() for f in fields[1:4]):
            return LineKind.FOREIGN
        if int(fields[1]) != self.step:
            return LineKind.STALE
        if len(name) != self.name_len or len(line) + 1 != self.length or fields[4].strip(b"x"):
            return LineKind.FOREIGN
        digits = name[len(self.name_prefix) :]
        if not digits.isdigit():
            return LineKind.FOREIGN
        if self.senders and int(digits) != int(fields[2]) % self.senders:
            return LineKind.FOREIGN
        return LineKind.OK

    def line_ts(self, line: bytes) -> int:
        """The send time of one line that classify() judged OK (PRIVATE: after as_room_line)."""
        return int(line[self.ts_at : self.ts_at + TS_DIGITS])


def as_room_line(line: bytes) -> bytes:
    """'@name (private): text' -> '@name: text', the line as the sender wrote it."""
    head, sep, text = line.partition(b": ")
    return head.removesuffix(PRIVATE_TAG) + sep + text


def _looks_like_notice(line: bytes) -> bool:
    """'DISCONNECT CHAT/1.0' or a numeric reply such as '413 Line too long'."""
    return line.startswith(b"DISCONNECT") or (len(line) >= 3 and line[:3].isdigit())
