"""Every size, count and time limit of the server and client, with the reason for it.

One place for the numbers, so that a reader can see at a glance how much one
peer can cost the server, and a tuner knows what to change.
"""

MAX_LINE_BYTES = 8 * 1024
# A chat line is typed by a person; 8 KiB is pages of text. The framer refuses
# anything longer (without the line end): an unregistered peer gets
# "400 Invalid registration", a registered one "413 Line too long", and both are
# disconnected. This also bounds each connection's unparsed input buffer.

MAX_USERNAME_CHARS = 32
# Names appear in every relayed line; 32 characters is generous for a nickname
# (IRC's usual NICKLEN is 9 to 30).

REGISTRATION_TIMEOUT_S = 10.0
# A connection that has not sent a complete REGISTER line by then is closed,
# so idle or slowloris connections cannot hold file descriptors forever.

# -- TLS (issue #10) --------------------------------------------------------------------------

TLS_HANDSHAKE_TIMEOUT_S = 5.0
MAX_TLS_HANDSHAKE_TIMEOUT_S = 10.0
# A TLS connection that has not finished its handshake by then is closed. A
# real client needs two round trips (well under a second even across the
# world); the rest is a stalled or hostile peer holding a descriptor. Until
# its handshake is done a connection is no client: the registration timeout
# starts only after it. --tls-handshake-timeout may lower it, never raise it
# past the maximum.

# -- the web gateway (issue #11) ----------------------------------------------------------------

MAX_HTTP_HEAD_BYTES = 8 * 1024
MAX_HTTP_LINE_BYTES = 4 * 1024
MAX_HTTP_HEADERS = 50
# A browser's request head (the request line and its headers) is well under
# 2 KiB with its cookies (we set none); 8 KiB is what nginx and h11 allow by
# default. Longer, or more headers, is refused with 400 and closed: the head is
# the only input buffered before a connection is a chat connection.

HTTP_IDLE_TIMEOUT_S = 10.0
# A web connection that has sent nothing by then is closed (--web-idle-timeout).
# Browsers open speculative connections they may never use; they are no users
# and cost a descriptor only this long.

HTTP_REQUEST_TIMEOUT_S = 10.0
# A request head must be complete this long after its first byte, or the
# connection is closed (--web-request-timeout): a slowloris peer dribbling one
# header a minute holds nothing for long.

MAX_HTTP_REQUESTS = 100
# Requests one kept-alive web connection may make before it is closed (a page
# load makes three or four); then the browser opens another.

MAX_HTTP_CONNECTIONS = 1024
# Web connections at once that are not (yet) chat connections: page loads and
# speculative connections. Past this a new one is closed at once; a flood of
# them cannot take every descriptor (chat connections have their own caps).

SENDQ_MAX_BYTES = 1024 * 1024
# Output waiting for one slow reader. Past this the reader is disconnected
# (with a log line naming the limit) instead of stalling others or growing
# memory. Worst case memory is this times the user count, but only for users
# who stop reading; a reader that keeps up holds nearly nothing.

MAX_CONNECTIONS_PER_ADDRESS = 16
# Connections at once from one address that flood control does not exempt
# (--max-per-address; an IPv6 address counts by its /64, which one host
# usually owns whole). 16 leaves room for a household or small office behind
# one NAT, each with a client or two, and is what Ergo allows by default.
# Exempt addresses (loopback by default: tests, benchmarks and a local bouncer
# open thousands) have no limit; --no-flood-control makes the default 0, no
# limit. Over it: "429 Too many connections", then the server closes.

DELIVERY_INTERVAL_S = 0.002
# Chat lines read within this long of the previous delivery wait for the next
# one, so under load each recipient gets one send() for several lines instead
# of one per line (send() is most of the server's CPU per delivery). A line
# that arrives after a quiet spell is delivered in the same loop turn, so this
# adds latency only under load, and never more than this. 0 delivers every
# turn. Chosen with the fan-out benchmark (docs/PERFORMANCE.md).

DELIVERY_ADAPT_WINDOW_S = 0.1
DELIVERY_BATCH_MIN_LINES = 0.2
# The interval pays only when a room gets several lines within it. Every
# window the server estimates, from the lines it delivered and the rooms they
# went to, how many lines one room gathers per interval; below this many it
# delivers every turn instead (many quiet rooms: waiting would add latency and
# save no send()), at or above it it waits the interval (one busy room). Set
# with peerbench's W1 and W4 (docs/PERFORMANCE.md): at 0.2, 100 rooms of 10 at
# 3,000 lines/s (0.06) get every line at once, and at 15,000 lines/s and more,
# where the server nears a full core, it gathers reads again.

RECV_BYTES = 64 * 1024
# Bytes asked of one recv(). Large enough that a busy sender's backlog is
# read in one call; it bounds the work one peer gets per loop turn.

WRITE_BUDGET_PER_TURN = 256 * 1024
# Bytes passed to one send() for one client per loop turn, so that one
# client with a deep queue cannot make a turn slow for everyone.

LINGER_TIMEOUT_S = 2.0
# After a final reply (400, 401, 408, 413, 429, shutdown) the server stops
# writing and waits this long for the peer to close (a peer that does not even
# read the reply is closed this long after it was queued), so that the reply is read before the
# socket is torn down (closing with unread input would send a reset that can
# destroy the reply in flight).

SHUTDOWN_FLUSH_TIMEOUT_S = 3.0
# On SIGINT/SIGTERM, how long the server tries to write "DISCONNECT CHAT/1.0"
# (and anything queued before it) to clients that read slowly, before exiting
# (--shutdown-timeout). A second SIGINT/SIGTERM ends the wait at once.

SHUTDOWN_CLOSE_WAIT_S = 0.5
# Once everything is written at shutdown, how long to wait for clients to
# close their side (ours do at once) before closing ours.

ACCEPT_PAUSE_S = 0.1
# When accept() fails for lack of file descriptors the listening socket is
# taken out of the selector this long, instead of spinning on a readable
# listener that cannot be served.

ACCEPT_WARNING_INTERVAL_S = 10.0
# While accept keeps failing (out of descriptors), the warning is logged at most
# this often; the next one says how many pauses it stands for. Without it a
# server at its descriptor limit writes ten lines a second.

LISTEN_BACKLOG = 4096
# Connections the kernel may hold for us before we accept them (it caps this
# at net.core.somaxconn). A burst of thousands of users connecting at once
# (the 10,000-user benchmark) must not overflow into SYN retries.

ACCEPTS_PER_TURN = 512
# Connections accepted per listener per loop turn: bounds the time one turn
# spends accepting during a connection storm, so established users are still
# served in between.

MAX_ROOMS = 10_000
# Rooms at once, #lobby included. A room costs a few hundred bytes plus its
# members; past this `!join` of a new room is refused (429), joining an
# existing one still works.

MAX_ROOMS_PER_USER = 20
# Rooms one CHAT/1.1 client may be in at once (a CHAT/1.0 client is in one);
# past it `!join` is refused (429) until it leaves one.

PRESENCE_MAX_MEMBERS = 200
# CHAT/1.1's joins and leaves (JOINED/LEFT) are sent only in rooms of at most
# this many members, and member lists on entering only for them: a reconnect
# storm of thousands into one room then costs each join at most this many
# events, not one per member (docs/PROTOCOL.md 7.3).

MAX_FOLLOWS_PER_USER = 50
# `!follow` entries per user. Each is checked against every room line, so the
# bound keeps one user from making every line cost more; past it: 429.

MAX_TOPIC_CHARS = 300
# A room topic is a sentence or two; `!rooms` prints one per room.

LIST_NAMES_PER_LINE = 20
# `!list` replies put this many names on a line, so a reply line stays far
# below the line limit whatever the room's size (20 x 32 characters).

# -- flood control (docs/SECURITY.md, "Flood control") ------------------------------------------
# Every limit here applies only to connections from addresses flood control does not
# exempt (--flood-exempt; loopback by default), and none applies with --no-flood-control.
# Each RATE/BURST pair is a token bucket: BURST is what may come at once, RATE how
# fast the allowance refills. The --flood-* options change them.

FLOOD_LINES_PER_S = 5.0
FLOOD_BURST_LINES = 60
# Lines (chat lines, commands, anything) one connection may send: a paste of
# 50 lines goes through at once, and a person typing never comes near 5 a
# second for long. Past them the server stops reading that connection until
# the allowance refills (the lines are delayed, not lost: they wait in the
# kernel and TCP makes the sender wait), and tells it once per episode:
# "429 Slow down: ...".

FLOOD_BYTES_PER_S = 8 * 1024
FLOOD_BURST_BYTES = 64 * 1024
# Bytes one connection may send: the same as lines for long lines. A full
# line (MAX_LINE_BYTES) a second, and eight of them at once. The server never
# reads more than the allowance, so nothing a flooder sends past it costs the
# server anything.

FLOOD_PAUSE_MIN_S = 0.25
# A throttled connection is read again only once this much allowance has come
# back (or the whole burst, if smaller), so a flooder costs at most a few
# wake-ups a second, not one per line.

FLOOD_EPISODE_GAP_S = 10.0
# Throttling pauses less than this apart are one episode: the "429 Slow down"
# notice comes once per episode, and the sustained-flood rule below looks at
# the whole episode.

FLOOD_SUSTAINED_S = 30.0
FLOOD_SUSTAINED_SHARE = 0.8
# A connection paused for at least this share of an episode that has lasted
# this long is flooding on purpose: it gets "429 Disconnected for flooding"
# and is closed, with a warning in the log. A paste of a few hundred lines is
# only delayed (300 lines at 5 a second: under a minute, but the sender stops
# once the paste is through); a script that never stops is cut off after
# half a minute.

FLOOD_ROOM_LINES_PER_S = 20.0
FLOOD_ROOM_BURST_LINES = 200
# Chat lines one room takes from non-exempt senders, all of them together,
# so that many connections cannot flood one room between them (each under its
# own limit). 20 a second is more than people can read; the burst lets several
# people paste at once. Past it a line is not relayed: its sender gets
# "429 Not sent: ..." (one reply per line) and can send it again later.

FLOOD_CONNECTS_PER_S = 0.5
FLOOD_BURST_CONNECTS = 30
# New connections one address may open: 30 at once (a NAT'd office after a
# restart), then one every 2 seconds. Past it the connection is refused at
# accept, before any state is made for it: one line ("429 Connecting too
# often; ...") and close.

FLOOD_MAX_TRACKED_ADDRESSES = 100_000
# Addresses whose connection rate is remembered (about 200 bytes each: 20 MB
# at most). An address whose allowance is full again is forgotten first;
# past this even the others are forgotten (and a warning logged), so an
# attacker with a whole IPv6 range costs bounded memory, not unbounded.

MAX_CONNECTIONS_FD_RESERVE = 64
# The server-wide connection cap by default (--max-connections): the
# descriptor limit (raised to the hard limit at start) less this reserve for
# the listeners, the history database, the signal pipe and accept() itself.
# Past it a new connection is refused at accept with
# "429 Server full; try again later", instead of accept failing with EMFILE
# and the server pausing accept for everyone. It applies to every address.
# Under twice the reserve in descriptors there is no default cap (the accept
# pause on EMFILE still keeps the server serving).

# -- history -------------------------------------------------------------------------------

HISTORY_MAX_ROWS = 1_000_000
# Room lines kept in the history database, all rooms together. A line is a few
# hundred bytes on disk with its indexes, so the file stays within a few hundred
# MiB; a busy server at ten lines a second fills it in about a day, a quiet one
# never. Past it the oldest lines are deleted (a line's id is its age).

HISTORY_MAX_AGE_S = 90 * 24 * 3600.0
# Lines older than 90 days are deleted and never replayed: old enough to scroll
# back through a quarter's discussion, young enough that what people said does
# not stay on disk forever.

HISTORY_FLUSH_INTERVAL_S = 0.5
# Lines wait at most this long in memory before the writer thread commits them
# (all that arrived meanwhile in one transaction), so a crash (SIGKILL, OOM)
# loses at most the last half second, while a busy server commits twice a
# second instead of once per line.

HISTORY_MAX_REPLAY = 200
# The most lines one "!history N" or one replay on join returns; a larger N is
# cut to this. 200 lines is several screens, and bounds what one request costs
# the writer thread and the asker's send queue (200 x 8 KiB = 1.6 MiB, within
# SENDQ_MAX_BYTES).

HISTORY_DEFAULT_REPLAY = 20
# Lines replayed on join, and returned by "!history" without N: enough to see
# what the room is talking about, short enough not to bury the prompt.

HISTORY_QUEUE_MAX = 100_000
# Lines waiting for the writer thread. It keeps up with far more than a server
# can relay, so this fills only when the disk stalls; then the oldest waiting
# lines are dropped and counted (a warning per HISTORY_WARNING_INTERVAL_S)
# rather than growing memory: at most 100,000 x 8 KiB = 800 MiB, typically a
# few MiB.

HISTORY_WARNING_INTERVAL_S = 10.0
# While lines are being lost (queue full, write errors), the writer logs at
# most one warning this often, saying how many lines it stands for.

HISTORY_OPEN_TIMEOUT_S = 10.0
# How long the server waits at start for the history database to open (create
# the directory, recover a crashed write-ahead log, check the schema) before it
# refuses to start with one sentence; a hung network filesystem must not hang
# the start silently.

HISTORY_CLOSE_TIMEOUT_S = 5.0
# At shutdown, how long to wait for the writer thread to commit what is queued
# and close the database. Past it the server exits anyway (with a warning):
# the lines not yet committed are lost, the database is not damaged.

HISTORY_BUSY_TIMEOUT_S = 5.0
# How long the writer thread waits for another process that holds the
# database's write lock (a backup, the sqlite3 shell) before giving up on that
# batch (lost, counted and logged). Only the writer thread waits, never the loop.

HISTORY_WRITER_NICE = 10
# How much nicer than the process the store's thread runs on Linux (capped at
# 19; the loop's thread keeps the process's nice). Its history batch every
# HISTORY_FLUSH_INTERVAL_S takes a few milliseconds of CPU at thousands of
# lines a second; niced, the loop preempts it, so chat lines are not held up
# behind a commit. The same thread checks passwords (scrypt) and reads
# replays, which then also yield to the loop: on a core busy with other
# programs they take longer, never the loop's lines. (It gives up the GIL
# inside every SQLite step, so the loop seldom waits for it there.)

HISTORY_PRUNE_EVERY_LINES = 1000
HISTORY_PRUNE_INTERVAL_S = 60.0
# Retention (HISTORY_MAX_ROWS, HISTORY_MAX_AGE_S) is applied after this many
# lines written, or this long after the last pruning if any were written
# since, and when the database is opened and closed: deleting in bulk costs
# far less than a delete per line. In between the file holds up to this many
# lines over the row bound; replies never show lines past the age bound.

# -- the client ----------------------------------------------------------------------------

CLIENT_MAX_LINE_BYTES = 64 * 1024
# The longest line the client accepts from a server. A server notice may be
# longer than our own line limit; the client is lenient in what it reads but
# still bounded: past this it reports the connection as lost.

CONNECT_TIMEOUT_S = 10.0
# How long the client waits for the TCP connection and for the registration
# reply before giving up with one clear sentence.

TUI_PANE_MAX_LINES = 10_000
# Lines the message pane keeps; older ones scroll away for good. A busy room
# at a line a second fills it in about three hours, and each kept line costs a
# rendered strip (a few hundred bytes), so the pane stays within a few MiB.

CLIENT_SENDQ_MAX_BYTES = 1024 * 1024
# A client's own output the server has not read yet. A person types far less than
# this; past it the server has stopped reading, so the client stops reading
# input (line mode) or refuses the line ("Not sent: ...", full screen)
# instead of piling it up in memory.

FAREWELL_TIMEOUT_S = 2.0
# How long a client leaving waits for "DISCONNECT <name> CHAT/1.0" to be written
# to a server that reads slowly, before it exits anyway.

CLIENT_MAX_KNOWN_NAMES = 10_000
# Names (and, apart, rooms) remembered for Tab completion; the least recently seen
# is forgotten first. A name costs about a hundred bytes, so this is about a MiB
# at worst, and a server's `!list all` of thousands still completes.

CLIENT_RECV_BYTES = 64 * 1024
# Bytes the client asks of one recv() from the server. A busy room's backlog
# is read in a few calls and shown as one batch (one write to the terminal).

INPUT_READ_BYTES = 64 * 1024
# Bytes of the user's input taken per read (a pipe, or the terminal in raw
# mode): a whole paste in one go, typing a byte at a time. The lines of one
# read wait while the send queue is full, so this also bounds what waits.

MAX_PASTE_BYTES = 64 * 1024
# A bracketed paste is held until its end marker arrives. A chat line is at
# most 8 KiB (MAX_LINE_BYTES), so 64 KiB keeps any paste a person would send;
# the rest of a bigger one is dropped rather than held in memory.

MAX_SEQUENCE_BYTES = 32
# An escape sequence from a keyboard is a few bytes (ESC [ 1 ; 5 C). Longer
# parameter runs are still consumed up to their final byte, but not stored.

HISTORY_LINES = 500
# Lines of this session that Up/Down can bring back; older ones are forgotten.
# At most 8 KiB each, so the history stays within 4 MiB.

CHAR_WIDTH_CACHE = 4096
# Characters whose terminal width is remembered: a whole alphabet or two and
# the emoji in use. Looking a width up is slow only for characters past Latin.

NAME_STYLE_CACHE = 1024
# Sender names whose colour the full screen remembers; a room rarely has more
# talkers, and a forgotten colour is only computed again.

# -- protected names and operators (chatroom.server.accounts, chatroom.store.accounts) -------------

MAX_PASSWORD_BYTES = 256
# A password's UTF-8 bytes (before base64). Long passphrases fit; scrypt's cost
# does not depend on it, and the REGISTER line stays well under MAX_LINE_BYTES.

PASSWORD_FAILURE_DELAY_S = 1.0
# A wrong password is answered this long after the check, so one connection
# guesses at most about once a second (and the log shows each guess).

MAX_PASSWORD_FAILURES_PER_ADDRESS = 5
MAX_PASSWORD_FAILURES_PER_NAME = 20
PASSWORD_FAILURE_WINDOW_S = 300.0
# Wrong passwords counted per address and per name over this window; past
# either count, logins are refused with 429 (without running scrypt) until
# the window ends. The per-name count is higher: a guesser from many
# addresses can lock the real owner out for at most the window.

MAX_PASSWORD_FAILURE_ENTRIES = 10_000
# Addresses and names whose failures are counted at once; the oldest count is
# forgotten first, so a scan from many addresses cannot grow memory.

MAX_BAN_S = 10 * 365 * 86400
# The longest timed ban (!ban NAME 3650d); longer is "for good" (no duration).

# -- the IRC listener (issue #12, docs/IRC.md) --

IRC_MAX_LINE_BYTES = 512
# An IRC line, CR LF included (RFC 1459 2.3, Modern IRC "Messages"); longer outgoing PRIVMSGs are split.
IRC_MAX_TAGS_BYTES = 8191
# Message tags may add this much before the 512 (IRCv3 message-tags): the longest input line is their sum.
IRC_MAX_PARAMS = 15
# RFC 1459's most parameters a message may have; more are folded into the last.
IRC_MAX_CAP_LINE_CHARS = 400
# CAP LS replies are cut into lines of at most this many characters of capabilities.
IRC_MAX_CLIENT_TAGS_BYTES = 4094
# Client-only tags a client may send on one line (IRCv3 message-tags); more is ERR_INPUTTOOLONG.
IRC_MAX_REMEMBERED = 10_000
# Departures (PART and QUIT reasons) and NOTICEs kept for the IRC connections that relay them;
# past this many the oldest are forgotten (a PART then shows without its reason).
IRC_SHARED_LINES = 8192
# Room lines whose IRC bytes are kept for the next IRC connection that gets the same line: each
# is built once, not once per connection (chatroom.irc.codec.IrcShared); the oldest go first.
IRC_PING_INTERVAL_S = 60.0
# An IRC connection that sent nothing for one to two of these is sent PING; one
# still silent a turn later is closed (ERROR: Ping timeout). --irc-ping-interval.
IRC_SASL_CHUNK_BYTES = 400
# IRCv3 SASL: a client cuts its base64 AUTHENTICATE response into chunks of this size (a chunk of
# exactly this size means more follows); a longer single parameter is answered 905.
IRC_MAX_SASL_RESPONSE_BYTES = 3 * IRC_SASL_CHUNK_BYTES
# A whole SASL PLAIN response, base64: two names of MAX_USERNAME_CHARS (up to 4 bytes a character)
# and a password of MAX_PASSWORD_BYTES take 688 characters; past this the exchange fails with 904.
IRC_MAX_BANS_PER_CHANNEL = 100
# MODE #chan +b masks one channel keeps (ISUPPORT MAXLIST=b:100, as ngIRCd); more are refused with 478.
IRC_MAX_INVITES_PER_CHANNEL = 100
# INVITEs one channel remembers until used; past this many an arbitrary older one is forgotten.
IRC_MAX_KEY_CHARS = 23
# A channel key (+k), as ngIRCd's KEYLEN; a longer one is refused (ERR_INVALIDKEY 525).
IRC_MAX_WHOWAS = 1_000
# Nicks that left, remembered for WHOWAS (oldest forgotten first); WHOWAS gives at most this many.
IRC_MAX_CHANNEL_LIMIT = 1_000_000
# The highest +l a channel may have; past any server's user count, and keeps the number short.
IRC_MAX_KICK_TARGETS = 4
# Nicks one KICK may name (ISUPPORT TARGMAX=KICK:4); more are dropped silently, as Modern IRC allows.
IRC_ISUPPORT_PER_LINE = 12
# ISUPPORT tokens per 005 line: with the nick and the closing text, within IRC_MAX_PARAMS (15).
IRC_MAX_MASK_CHARS = 100
# A +b/+e/+I mask (nick!user@host with wildcards); a longer one is refused (ERR_INVALIDMODEPARAM 696).
