"""Section 6 of docs/PROTOCOL.md against the real server: commands, rooms, private lines, follows, history.

The server runs as a child process and raw peers (support.peer.Peer, which
imports nothing from chatroom) speak CHAT/1.0 to it over loopback. Absence is
proved by order, never by waiting: every sender's lines arrive in order, so
"nothing reached carol" is shown by the next line carol receives being a
marker said after the thing that must not have reached her.
"""

from __future__ import annotations

import calendar
import re
import signal
import time
from pathlib import Path

from support.peer import Peer
from support.processes import ServerFactory, ServerProcess

REPLY_LINE = re.compile(rb"(\d{3})([- ])(.*)")
# One line of a reply (6.1): a code, '-' when more lines follow or a space on the last, then the sentence.

HISTORY_LINE = re.compile(rb"217-(\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ) (@.*)")
# One line of !history (6.3): `217-YYYY-MM-DD HH:MM:SSZ @name: text`.


COMMAND_NAMES = (
    "!join",
    "!leave",
    "!rooms",
    "!topic",
    "!untopic",
    "!list",
    "!msg",
    "!follow",
    "!unfollow",
    "!follow?",
    "!history",
)
# Every command of the table in 6.3.


class User:
    """A registered raw peer and its name: says chat lines, sends commands, reads what arrives."""

    def __init__(self, name: str, peer: Peer) -> None:
        self.name = name
        self.peer = peer

    def say(self, text: str) -> bytes:
        """Say `text` (a chat line, or a command when it starts with '!'); returns the line as sent."""
        line = f"@{self.name}: {text}".encode()
        self.peer.send_line(line)
        return line

    def command(self, text: str) -> list[bytes]:
        """Send the command line `text` and return its whole reply."""
        self.say(text)
        return self.reply()

    def reply(self) -> list[bytes]:
        """The next reply: its lines up to the one with a space after the code, all with the same code."""
        lines: list[bytes] = []
        while True:
            line = self.peer.recv_line()
            match = REPLY_LINE.fullmatch(line)
            assert match is not None, f"{self.name}: expected a reply line, got {line!r} after {lines!r}"
            assert not lines or line[:3] == lines[0][:3], f"{self.name}: code changed in {[*lines, line]!r}"
            lines.append(line)
            if match[2] == b" ":
                return lines

    def next_line(self) -> bytes:
        return self.peer.recv_line()

    def next_lines(self, count: int) -> list[bytes]:
        return self.peer.recv_lines(count)


def users(server: ServerProcess, *names: str) -> list[User]:
    return [User(name, server.register(name)) for name in names]


def in_room(room: str, *members: User) -> None:
    """Each of `members` joins `room` (its reply is checked for the code only)."""
    for member in members:
        reply = member.command(f"!join {room}")
        assert reply[0].startswith(b"210 You are now in "), reply


def follow(user: User, *targets: str) -> None:
    for target in targets:
        assert user.command(f"!follow {target}") == [f"216 You follow {target} now.".encode()]


def followed(sender: str, room: str, text: str) -> bytes:
    """How a followed line from another room arrives (6.4)."""
    return f"@{sender} ({room}): {text}".encode()


def private(sender: str, text: str) -> bytes:
    return f"@{sender} (private): {text}".encode()


# -- the success replies, as 6.3 words them -------------------------------------------------------


def test_help_lists_every_command_in_218_lines_the_last_with_a_space(server: ServerProcess) -> None:
    (alice,) = users(server, "alice")
    reply = alice.command("!help")
    assert len(reply) >= 2
    assert all(line.startswith(b"218-") for line in reply[:-1]), reply
    assert reply[-1].startswith(b"218 "), reply
    text = b"\n".join(reply).decode()
    for command in COMMAND_NAMES:
        assert command in text, f"{command} missing from !help"


def test_join_answers_210_with_the_room_as_first_written_and_its_member_count(server: ServerProcess) -> None:
    alice, bob, carol, dave = users(server, "alice", "bob", "carol", "dave")
    assert alice.command("!join #Dev") == [b"210 You are now in #Dev (1 member)."]
    assert bob.command("!join #dev") == [b"210 You are now in #Dev (2 members)."]
    assert carol.command("!join #\uff24\uff25\uff36") == [b"210 You are now in #Dev (3 members)."]
    assert dave.command("!join #" + "x" * 32) == [f"210 You are now in #{'x' * 32} (1 member).".encode()]


def test_an_emptied_room_is_forgotten_and_a_later_join_writes_its_name_anew(server: ServerProcess) -> None:
    alice, bob = users(server, "alice", "bob")
    assert alice.command("!join #Dev") == [b"210 You are now in #Dev (1 member)."]
    assert alice.command("!topic ship it") == [b"212 The topic of #Dev is now: ship it"]
    assert alice.command("!leave") == [b"210 You are now in #lobby (2 members)."]
    assert bob.command("!join #DEV") == [b"210 You are now in #DEV (1 member)."]
    assert bob.command("!topic") == [b"212 #DEV has no topic; !topic TEXT sets one."]


def test_leave_answers_210_you_are_now_in_lobby_with_its_member_count(server: ServerProcess) -> None:
    alice, bob, _ = users(server, "alice", "bob", "carol")
    in_room("#dev", alice, bob)
    assert alice.command("!leave") == [b"210 You are now in #lobby (2 members)."]
    assert bob.command("!leave") == [b"210 You are now in #lobby (3 members)."]


def test_rooms_lists_every_room_with_its_member_count_and_topic_then_the_room_count(
    server: ServerProcess,
) -> None:
    alice, bob, carol, _ = users(server, "alice", "bob", "carol", "dave")
    in_room("#Dev", alice, bob)
    assert alice.command("!topic ship it: friday") == [b"212 The topic of #Dev is now: ship it: friday"]
    in_room("#ops", carol)
    reply = carol.command("!rooms")
    assert reply[-1] == b"211 3 rooms."
    assert sorted(reply[:-1]) == sorted(
        [b"211-#Dev 2 members: ship it: friday", b"211-#lobby 1 member", b"211-#ops 1 member"]
    )


def test_rooms_counts_an_empty_lobby_as_zero_members(server: ServerProcess) -> None:
    (alice,) = users(server, "alice")
    in_room("#dev", alice)
    reply = alice.command("!rooms")
    assert reply[-1] == b"211 2 rooms."
    assert sorted(reply[:-1]) == [b"211-#dev 1 member", b"211-#lobby 0 members"]


def test_topic_shows_none_then_sets_it_kept_exactly_and_shows_it_to_every_member(
    server: ServerProcess,
) -> None:
    alice, bob = users(server, "alice", "bob")
    in_room("#dev", alice, bob)
    assert alice.command("!topic") == [b"212 #dev has no topic; !topic TEXT sets one."]
    topic = "Release: friday  (maybe) \u00fcn\u00efc\u00f6d\u00e9 \U0001f389 "
    assert alice.command(f"!topic {topic}") == [f"212 The topic of #dev is now: {topic}".encode()]
    assert alice.command("!topic") == [f"212 The topic of #dev is: {topic}".encode()]
    assert bob.command("!TOPIC") == [f"212 The topic of #dev is: {topic}".encode()]


def test_a_topic_of_300_characters_is_accepted(server: ServerProcess) -> None:
    (alice,) = users(server, "alice")
    in_room("#dev", alice)
    topic = "\u00e9" * 300  # characters, not bytes: 600 bytes of UTF-8
    assert alice.command(f"!topic {topic}") == [f"212 The topic of #dev is now: {topic}".encode()]


def test_the_lobby_has_no_topic_to_show(server: ServerProcess) -> None:
    (alice,) = users(server, "alice")
    assert alice.command("!topic") == [b"212 #lobby has no topic; !topic TEXT sets one."]


def test_list_shows_the_members_of_my_room_then_their_count(server: ServerProcess) -> None:
    alice, bob, carol = users(server, "alice", "Bob", "carol")
    in_room("#dev", alice)
    assert alice.command("!list") == [b"213-alice", b"213 1 member in #dev."]
    in_room("#dev", bob)
    reply = bob.command("!list")
    assert reply[-1] == b"213 2 members in #dev."
    assert sorted(b" ".join(line[4:] for line in reply[:-1]).split(b" ")) == [b"Bob", b"alice"]
    assert carol.command("!list") == [b"213-carol", b"213 1 member in #lobby."]


def test_list_puts_at_most_20_names_on_a_line(server: ServerProcess) -> None:
    names = [f"user{number:02}" for number in range(21)]
    everyone = users(server, *names)
    reply = everyone[0].command("!list")
    assert reply[-1] == b"213 21 members in #lobby."
    name_lines = [line.removeprefix(b"213-").split(b" ") for line in reply[:-1]]
    assert all(line.startswith(b"213-") for line in reply[:-1])
    assert all(1 <= len(line) <= 20 for line in name_lines), name_lines
    assert sorted(name for line in name_lines for name in line) == [name.encode() for name in names]


def test_list_all_shows_everyone_online_by_room_then_users_and_rooms(server: ServerProcess) -> None:
    alice, bob, _ = users(server, "alice", "bob", "carol")
    in_room("#dev", alice, bob)
    reply = alice.command("!list all")
    assert reply[-1] == b"213 3 users in 2 rooms."
    by_room: dict[bytes, set[bytes]] = {}
    for line in reply[:-1]:
        assert line.startswith(b"213-#"), line
        room, _, names = line[4:].partition(b": ")
        by_room.setdefault(room, set()).update(names.split(b" "))
    assert by_room == {b"#lobby": {b"carol"}, b"#dev": {b"alice", b"bob"}}


def test_list_all_with_one_user_says_1_user_in_1_room(server: ServerProcess) -> None:
    (alice,) = users(server, "alice")
    assert alice.command("!list all") == [b"213-#lobby: alice", b"213 1 user in 1 room."]


def test_msg_answers_215_sent_to_name_and_the_addressee_gets_a_private_line(server: ServerProcess) -> None:
    alice, bob = users(server, "alice", "bob")
    assert alice.command("!msg bob lunch?  at  noon ") == [b"215 Sent to bob."]
    assert bob.next_line() == private("alice", "lunch?  at  noon ")


def test_msg_finds_the_addressee_under_its_folded_name(server: ServerProcess) -> None:
    alice, bob = users(server, "alice", "Bob")
    reply = alice.command("!msg \uff42\uff4f\uff42 psst")
    assert len(reply) == 1 and reply[0].startswith(b"215 Sent to "), reply
    assert bob.next_line() == private("alice", "psst")


def test_follow_unfollow_and_follow_query_answer_216_as_the_table_words_them(server: ServerProcess) -> None:
    alice, _ = users(server, "alice", "bob")
    reply = alice.command("!follow?")
    assert len(reply) == 1 and reply[0].startswith(b"216 You follow nothing; "), reply
    assert alice.command("!follow #rust") == [b"216 You follow #rust now."]
    assert alice.command("!follow?") == [b"216-#rust", b"216 You follow 1."]
    assert alice.command("!follow @bob") == [b"216 You follow @bob now."]
    reply = alice.command("!follow?")
    assert reply[-1] == b"216 You follow 2." and sorted(reply[:-1]) == [b"216-#rust", b"216-@bob"]
    assert alice.command("!unfollow #rust") == [b"216 You no longer follow #rust."]
    assert alice.command("!follow?") == [b"216-@bob", b"216 You follow 1."]
    assert alice.command("!unfollow @bob") == [b"216 You no longer follow @bob."]
    reply = alice.command("!follow?")
    assert len(reply) == 1 and reply[0].startswith(b"216 You follow nothing; "), reply


def test_follow_of_a_user_who_is_not_online_is_allowed(server: ServerProcess) -> None:
    (alice,) = users(server, "alice")
    assert alice.command("!follow @zed") == [b"216 You follow @zed now."]
    (zed,) = users(server, "zed")
    in_room("#dev", alice)
    zed.say("here now")
    assert alice.next_line() == followed("zed", "#lobby", "here now")


def test_history_of_a_room_where_nothing_was_said_is_217_0_lines(server: ServerProcess) -> None:
    alice, bob = users(server, "alice", "bob")
    in_room("#Dev", alice)
    assert alice.command("!history") == [b"217 0 lines of #Dev."]
    assert bob.command("!history 5") == [b"217 0 lines of #lobby."]


# -- the error replies ----------------------------------------------------------------------------


USAGE_ERRORS = [
    ("!join", "!join"),
    ("!join #a #b", "!join"),
    ("!leave now", "!leave"),
    ("!rooms all", "!rooms"),
    ("!list everyone", "!list"),
    ("!list all now", "!list"),
    ("!msg", "!msg"),
    ("!msg bob", "!msg"),
    ("!msg bob ", "!msg"),
    ("!follow", "!follow"),
    ("!follow #a #b", "!follow"),
    ("!unfollow", "!unfollow"),
    ("!unfollow @a @b", "!unfollow"),
    ("!follow? #a", "!follow?"),
    ("!history 0", "!history"),
    ("!history -3", "!history"),
    ("!history ten", "!history"),
    ("!history 1 2", "!history"),
]
# (the line, the command whose right form the reply must show)


def test_missing_or_extra_arguments_are_400_usage_showing_the_right_form(server: ServerProcess) -> None:
    alice, bob = users(server, "alice", "bob")
    for line, form in USAGE_ERRORS:
        reply = alice.command(line)
        assert len(reply) == 1 and reply[0].startswith(b"400 Usage: "), (line, reply)
        assert form.encode() in reply[0], (line, reply)
    marker = alice.say("still connected")
    assert bob.next_line() == marker


def test_help_with_an_extra_argument_is_400_usage(server: ServerProcess) -> None:
    (alice,) = users(server, "alice")
    reply = alice.command("!help join")
    assert len(reply) == 1 and reply[0].startswith(b"400 Usage: "), reply


def test_a_room_name_that_breaks_6_2_is_400_room_names_start_with_hash(server: ServerProcess) -> None:
    alice, bob = users(server, "alice", "bob")
    for room in [
        "dev",
        "#",
        "#" + "x" * 33,
        "@dev",
        "!dev",
        "#a\u200bb",
        "#a\ufeffb",
        "#a\U000f0000b",
        "#a\u0378b",
    ]:
        reply = alice.command(f"!join {room}")
        assert len(reply) == 1 and reply[0].startswith(b"400 Room names start with #"), (room, reply)
    marker = alice.say("still in the lobby")
    assert bob.next_line() == marker


def test_a_room_name_with_other_whitespace_inside_is_one_bad_room_name_not_two_words(
    server: ServerProcess,
) -> None:
    (alice,) = users(server, "alice")
    for room in ["#a\u00a0b", "#\u3000x", "#a\u2003b"]:
        reply = alice.command(f"!join {room}")
        assert len(reply) == 1 and reply[0].startswith(b"400 Room names start with #"), (room, reply)


def test_a_topic_of_301_characters_is_400_and_the_topic_is_unchanged(server: ServerProcess) -> None:
    (alice,) = users(server, "alice")
    in_room("#dev", alice)
    assert alice.command("!topic " + "\u00e9" * 301) == [b"400 A topic is at most 300 characters."]
    assert alice.command("!topic") == [b"212 #dev has no topic; !topic TEXT sets one."]


def test_setting_a_topic_in_the_lobby_is_400_lobby_has_no_topic(server: ServerProcess) -> None:
    (alice,) = users(server, "alice")
    assert alice.command("!topic welcome all") == [b"400 #lobby has no topic."]
    assert alice.command("!topic") == [b"212 #lobby has no topic; !topic TEXT sets one."]


def test_a_private_message_to_yourself_is_400(server: ServerProcess) -> None:
    alice, bob = users(server, "alice", "bob")
    for spelling in ["alice", "ALICE", "\uff41\uff4c\uff49\uff43\uff45"]:
        assert alice.command(f"!msg {spelling} note to self") == [
            b"400 You cannot send a private message to yourself."
        ], spelling
    marker = bob.say("nothing arrived before this")
    assert alice.next_line() == marker


def test_a_private_message_to_nobody_is_404_no_user_named_name(server: ServerProcess) -> None:
    alice, bob = users(server, "alice", "bob")
    assert alice.command("!msg zed hello") == [b"404 No user named zed is online; !list all shows who is."]
    bob.peer.send_line("DISCONNECT bob CHAT/1.0")
    bob.peer.expect_closed()
    assert alice.command("!msg bob are you there") == [
        b"404 No user named bob is online; !list all shows who is."
    ]


def test_unfollow_of_something_not_followed_is_404(server: ServerProcess) -> None:
    (alice,) = users(server, "alice")
    assert alice.command("!unfollow #rust") == [b"404 You do not follow #rust."]
    assert alice.command("!unfollow @bob") == [b"404 You do not follow @bob."]
    follow(alice, "#go")
    assert alice.command("!unfollow @go") == [b"404 You do not follow @go."]


def test_joining_the_room_you_are_in_is_409(server: ServerProcess) -> None:
    (alice,) = users(server, "alice")
    assert alice.command("!join #lobby") == [b"409 You are in #lobby already."]
    assert alice.command("!leave") == [b"409 You are in #lobby already."]
    in_room("#Dev", alice)
    assert alice.command("!join #Dev") == [b"409 You are in #Dev already."]
    assert alice.command("!join #dev") == [b"409 You are in #Dev already."]


def test_following_something_twice_is_409(server: ServerProcess) -> None:
    (alice,) = users(server, "alice")
    follow(alice, "#rust", "@bob")
    assert alice.command("!follow #rust") == [b"409 You follow #rust already."]
    assert alice.command("!follow @bob") == [b"409 You follow @bob already."]
    reply = alice.command("!follow?")
    assert reply[-1] == b"216 You follow 2." and sorted(reply[:-1]) == [b"216-#rust", b"216-@bob"]


def test_an_unknown_command_is_421_naming_it(server: ServerProcess) -> None:
    alice, bob = users(server, "alice", "bob")
    for word in ["dance", "Dance", "joined", "msgs", "follow!", "help?", ""]:
        assert alice.command(f"!{word} with me #lobby") == [
            f"421 Unknown command !{word}; !help lists the commands.".encode()
        ], word
    marker = alice.say("not relayed")
    assert bob.next_line() == marker


def test_the_51st_follow_is_429_until_one_is_unfollowed(server: ServerProcess) -> None:
    alice, bob = users(server, "alice", "bob")
    alice.peer.send(b"".join(f"@alice: !follow #t{number}\n".encode() for number in range(50)))
    for number in range(50):
        assert alice.reply() == [f"216 You follow #t{number} now.".encode()]
    limit = [b"429 You follow 50 already, the most allowed; !unfollow one first."]
    assert alice.command("!follow #t50") == limit
    assert alice.command("!follow @bob") == limit
    assert alice.command("!follow?")[-1] == b"216 You follow 50."
    assert alice.command("!unfollow #t7") == [b"216 You no longer follow #t7."]
    assert alice.command("!follow @bob") == [b"216 You follow @bob now."]
    in_room("#dev", alice)
    bob.say("still counted")
    assert alice.next_line() == followed("bob", "#lobby", "still counted")


# -- what is relayed, and to whom -------------------------------------------------------------------

COMMANDS_THAT_SEND_NOTHING = [
    "!help",
    "!rooms",
    "!topic",
    "!topic #rust is the topic",
    "!list",
    "!list all",
    "!follow #rust",
    "!follow?",
    "!unfollow #rust",
    "!history",
    "!history 3",
    "!join",
    "!JOIN #lobby",
    "!join #elsewhere",
    "!leave",
    "!msg zed #rust",
    "!msg alice #rust",
    "!dance #rust",
    "!",
]


def test_a_command_line_is_never_relayed_to_anyone(server: ServerProcess) -> None:
    alice, bob, carol, dave = users(server, "alice", "bob", "carol", "dave")
    in_room("#dev", dave)
    follow(dave, "@alice", "#rust")
    for line in COMMANDS_THAT_SEND_NOTHING:
        alice.command(line)
    marker = alice.say("the marker #rust")
    assert bob.next_line() == marker
    assert carol.next_line() == marker
    assert dave.next_line() == followed("alice", "#lobby", "the marker #rust")


def test_a_line_starting_with_two_bangs_is_relayed_with_the_first_removed(server: ServerProcess) -> None:
    alice, bob = users(server, "alice", "bob")
    for text, relayed in [("!!wow", "!wow"), ("!!", "!"), ("!!!x", "!!x"), ("!!join #dev", "!join #dev")]:
        alice.say(text)
        assert bob.next_line() == f"@alice: {relayed}".encode(), text
    assert alice.command("!list")[-1] == b"213 2 members in #lobby.", "'!!join' must not join"


def test_the_command_name_is_case_insensitive(server: ServerProcess) -> None:
    alice, bob = users(server, "alice", "bob")
    assert alice.command("!HELP") == alice.command("!help")
    assert alice.command("!JoIn #dev") == [b"210 You are now in #dev (1 member)."]
    assert alice.command("!TOPIC hi") == [b"212 The topic of #dev is now: hi"]
    assert alice.command("!ROOMS")[-1] == b"211 2 rooms."
    assert alice.command("!List all")[-1] == b"213 2 users in 2 rooms."
    assert alice.command("!FOLLOW @bob") == [b"216 You follow @bob now."]
    assert alice.command("!Follow?") == [b"216-@bob", b"216 You follow 1."]
    assert alice.command("!UNFOLLOW @bob") == [b"216 You no longer follow @bob."]
    assert alice.command("!MSG bob hi") == [b"215 Sent to bob."]
    assert bob.next_line() == private("alice", "hi")
    assert alice.command("!LEAVE") == [b"210 You are now in #lobby (2 members)."]


def test_a_plain_chat_1_0_peer_receives_exactly_the_other_lobby_members_lines(server: ServerProcess) -> None:
    """It never sends a command; others join rooms, follow, whisper and set topics around it."""
    plain = server.register("plain")
    alice, bob, carol = users(server, "alice", "bob", "carol")

    def plain_gets(line: bytes) -> None:
        assert plain.recv_line() == line

    hello = alice.say("hello lobby \u00fcn\u00efc\u00f6d\u00e9 \U0001f389")
    plain_gets(hello)
    bob.peer.send(b"@bob: tab\there and  two  spaces \r\n")
    tabbed = b"@bob: tab\there and  two  spaces "
    plain_gets(tabbed)
    assert alice.next_line() == tabbed and bob.next_line() == hello and carol.next_lines(2) == [hello, tabbed]
    in_room("#dev", alice, carol)
    assert alice.command("!topic plans #rust") == [b"212 The topic of #dev is now: plans #rust"]
    follow(bob, "@alice", "#rust")
    carol.say("in dev about #rust")
    assert alice.next_line() == b"@carol: in dev about #rust"
    assert bob.next_line() == followed("carol", "#dev", "in dev about #rust")
    assert alice.command("!msg bob secret") == [b"215 Sent to bob."]
    assert bob.next_line() == private("alice", "secret")
    assert bob.command("!msg carol also secret") == [b"215 Sent to carol."]
    assert carol.next_line() == private("bob", "also secret")
    plain_gets(bob.say("back in the lobby, #rust"))
    bob.say("!!not a command")
    plain_gets(b"@bob: !not a command")
    bob.command("!rooms")
    bob.command("!list all")
    bob.command("!dance")
    assert carol.command("!leave") == [b"210 You are now in #lobby (3 members)."]
    returned = carol.say("returned")
    plain_gets(returned)
    assert bob.next_line() == returned
    in_room("#dev", bob)
    bob.say("in #dev again")
    marker = carol.say("the marker")
    assert plain.recv_line() == marker
    assert plain.has_nothing_to_read()


def test_rooms_isolate_their_traffic_and_leave_brings_a_user_back(server: ServerProcess) -> None:
    alice, bob, carol, dave = users(server, "alice", "bob", "carol", "dave")
    in_room("#dev", alice, bob)
    dev_line = alice.say("only for #dev")
    lobby_line = carol.say("only for the lobby")
    assert bob.next_line() == dev_line
    assert dave.next_line() == lobby_line
    assert alice.command("!leave") == [b"210 You are now in #lobby (3 members)."]
    back = alice.say("back in the lobby")
    assert carol.next_line() == back
    assert dave.next_line() == back
    bob.say("alone in #dev now")
    assert carol.command("!join #dev") == [b"210 You are now in #dev (2 members)."]
    marker = bob.say("carol is here")
    assert carol.next_line() == marker, "a line said before joining is not replayed to CHAT/1.0"
    after = dave.say("after")
    assert alice.next_line() == after, "alice left #dev: its lines no longer reach her"


# -- private lines ---------------------------------------------------------------------------------


def test_a_private_line_reaches_only_its_addressee_and_never_the_console(start_server: ServerFactory) -> None:
    server = start_server("--log-messages")
    alice, bob, carol, dave = users(server, "alice", "bob", "carol", "dave")
    in_room("#dev", dave)
    follow(dave, "@alice", "#secret")
    mark = server.log_mark()
    assert alice.command("!msg bob the #secret words") == [b"215 Sent to bob."]
    assert bob.next_line() == private("alice", "the #secret words")
    marker = alice.say("the marker")
    assert carol.next_line() == marker
    assert bob.next_line() == marker
    assert dave.next_line() == followed("alice", "#lobby", "the marker")
    server.wait_for_log("@alice: the marker", after=mark)
    logged = server.stdout.lines[mark:]
    assert not [line for line in logged if "secret" in line], logged


def test_private_lines_are_not_followed(server: ServerProcess) -> None:
    alice, bob, carol = users(server, "alice", "bob", "carol")
    in_room("#dev", carol)
    follow(carol, "@alice", "@bob", "#lunch")
    assert alice.command("!msg bob #lunch?") == [b"215 Sent to bob."]
    assert bob.next_line() == private("alice", "#lunch?")
    alice.say("marker")
    assert carol.next_line() == followed("alice", "#lobby", "marker")


# -- follows ---------------------------------------------------------------------------------------


def test_a_line_matching_several_follows_reaches_a_follower_in_another_room_once(
    server: ServerProcess,
) -> None:
    bob, carol, erin = users(server, "bob", "carol", "erin")
    in_room("#Dev", bob)
    follow(carol, "@bob", "#rust", "#ship")
    bob.say("#rust and #ship, #Rust again, (#RUST!)")
    bob.say("marker")
    assert carol.next_lines(2) == [
        followed("bob", "#Dev", "#rust and #ship, #Rust again, (#RUST!)"),
        followed("bob", "#Dev", "marker"),
    ]
    assert bob.command("!leave") == [b"210 You are now in #lobby (3 members)."]
    marker = bob.say("lobby marker")
    assert carol.next_line() == marker
    assert erin.next_line() == marker


def test_a_follower_in_the_same_room_gets_the_ordinary_line_once(server: ServerProcess) -> None:
    alice, bob = users(server, "alice", "bob")
    in_room("#dev", alice, bob)
    follow(alice, "@bob", "#rust")
    lines = [bob.say("#rust #rust"), bob.say("no topic here"), bob.say("marker")]
    assert alice.next_lines(3) == lines


def test_a_topic_word_matches_after_stripping_punctuation_and_folding(server: ServerProcess) -> None:
    alice, bob = users(server, "alice", "bob")
    in_room("#dev", bob)
    follow(alice, "#Rust")
    texts = [
        "(#rust).",
        "'#RUST'",
        '"#rust!?"',
        "[#rust];",
        "{#rust},",
        "see #\uff32\uff35\uff33\uff34 now",
        "#rusty",
        "x#rust",
        "#rust's",
        "#rust-lang",
        "rust",
        "#ru st",
    ]
    matching = texts[:6]
    for text in texts:
        bob.say(text)
    bob.say("end #rust")
    assert alice.next_lines(len(matching) + 1) == [
        followed("bob", "#dev", text) for text in [*matching, "end #rust"]
    ]


def test_a_topic_word_is_split_from_its_neighbours_at_spaces_only(server: ServerProcess) -> None:
    alice, bob = users(server, "alice", "bob")
    in_room("#dev", bob)
    follow(alice, "#rust")
    bob.say("tab\t#rust")
    bob.say("end #rust")
    assert alice.next_line() == followed("bob", "#dev", "end #rust")


def test_follow_at_name_delivers_their_lines_from_every_room(server: ServerProcess) -> None:
    alice, bob, _ = users(server, "alice", "bob", "carol")
    in_room("#dev", alice)
    follow(alice, "@BOB")
    bob.say("from the lobby")
    in_room("#ops", bob)
    bob.say("from ops")
    in_room("#dev", bob)
    bob.say("from dev")
    assert alice.next_lines(3) == [
        followed("bob", "#lobby", "from the lobby"),
        followed("bob", "#ops", "from ops"),
        b"@bob: from dev",
    ]


def test_after_unfollow_nothing_more_arrives(server: ServerProcess) -> None:
    alice, bob, carol = users(server, "alice", "bob", "carol")
    in_room("#dev", bob)
    follow(alice, "@bob", "#rust")
    bob.say("one #rust")
    assert alice.next_line() == followed("bob", "#dev", "one #rust")
    assert alice.command("!unfollow @bob") == [b"216 You no longer follow @bob."]
    bob.say("two #rust")
    assert alice.next_line() == followed("bob", "#dev", "two #rust")
    assert alice.command("!unfollow #rust") == [b"216 You no longer follow #rust."]
    bob.say("three #rust")
    marker = carol.say("marker")
    assert alice.next_line() == marker


def test_a_followers_follows_end_when_it_disconnects(server: ServerProcess) -> None:
    carol, bob, dave = users(server, "carol", "bob", "dave")
    in_room("#dev", bob)
    follow(carol, "@bob", "#rust")
    carol.peer.send_line("DISCONNECT carol CHAT/1.0")
    carol.peer.expect_closed()
    (carol,) = users(server, "carol")
    reply = carol.command("!follow?")
    assert len(reply) == 1 and reply[0].startswith(b"216 You follow nothing; "), reply
    bob.say("#rust from bob")
    marker = dave.say("marker")
    assert carol.next_line() == marker


def test_follows_end_when_the_follower_resets_its_connection(server: ServerProcess) -> None:
    carol, bob, dave = users(server, "carol", "bob", "dave")
    in_room("#dev", bob)
    follow(carol, "@bob")
    mark = server.log_mark()
    carol.peer.reset()
    server.wait_for_log("Disconnecting user carol", after=mark)
    (carol,) = users(server, "carol")
    bob.say("to nobody outside")
    marker = dave.say("marker")
    assert carol.next_line() == marker


# -- ordering --------------------------------------------------------------------------------------


def test_a_reply_comes_after_the_lines_routed_to_that_user_before_the_command(
    start_server: ServerFactory,
) -> None:
    # A long delivery interval keeps bob's lines pending in the server when alice's command arrives:
    # the warm-up line is delivered at once, and the next delivery is not due for 2 s.
    server = start_server("--log-messages", "--delivery-interval", "2000")
    alice, bob = users(server, "alice", "bob")
    warm_up = bob.say("warm up")
    assert alice.next_line() == warm_up
    assert bob.command("!msg alice first, privately") == [b"215 Sent to alice."]
    lines = [bob.say(f"line {number}") for number in range(5)]
    server.wait_for_log("@bob: line 4")
    alice.say("!list")
    assert alice.next_lines(8) == [
        private("bob", "first, privately"),
        *lines,
        b"213-alice bob",
        b"213 2 members in #lobby.",
    ]


# -- the console -----------------------------------------------------------------------------------


def test_by_default_room_lines_are_not_logged_on_the_console(server: ServerProcess) -> None:
    alice, bob = users(server, "alice", "bob")
    mark = server.log_mark()
    bob.say("words in the lobby")
    in_room("#dev", bob)
    bob.say("words in dev")
    assert alice.next_line() == b"@bob: words in the lobby"
    bob.peer.send_line("DISCONNECT bob CHAT/1.0")
    server.wait_for_log("Disconnecting user bob", after=mark)
    logged = server.stdout.lines[mark:]
    assert not [line for line in logged if "words" in line], logged


def test_with_log_messages_room_lines_are_logged_and_commands_are_not(start_server: ServerFactory) -> None:
    server = start_server("--log-messages")
    alice, _ = users(server, "alice", "bob")
    mark = server.log_mark()
    alice.say("hello lobby")
    server.wait_for_log("@alice: hello lobby", after=mark)
    for line in ("!list all", "!topic", "!follow #cmdword", "!dance cmdword", "!join #dev", "!topic cmdword"):
        alice.command(line)
    alice.say("hello dev")
    server.wait_for_log("@alice: hello dev", after=mark)
    alice.say("!!bang")
    server.wait_for_log("@alice: !bang", after=mark)
    logged = server.stdout.lines[mark:]
    assert not [line for line in logged if "cmdword" in line or "!list" in line or "!join" in line], logged


# -- the examples of 6.6 ---------------------------------------------------------------------------


def test_the_section_6_6_example_runs_as_written(server: ServerProcess) -> None:
    alice, bob, carol = users(server, "alice", "bob", "carol")
    assert alice.command("!join #Dev") == [b"210 You are now in #Dev (1 member)."]
    assert bob.command("!join #dev") == [b"210 You are now in #Dev (2 members)."]
    hello = bob.say("hi alice")
    assert alice.next_line() == hello
    assert carol.command("!follow @bob") == [b"216 You follow @bob now."]
    shipped = bob.say("ship it")
    assert alice.next_line() == shipped
    assert carol.next_line() == b"@bob (#Dev): ship it"
    assert carol.command("!msg alice lunch?") == [b"215 Sent to alice."]
    assert alice.next_line() == b"@carol (private): lunch?"
    assert alice.command("!rooms") == [b"211-#lobby 1 member", b"211-#Dev 2 members", b"211 2 rooms."]
    assert alice.command("!msg zed hello") == [b"404 No user named zed is online; !list all shows who is."]
    assert alice.command("!dance") == [b"421 Unknown command !dance; !help lists the commands."]
    alice.say("!!dance")
    assert bob.next_line() == b"@alice: !dance"


def test_the_text_of_topic_and_msg_is_everything_after_the_separating_space_kept_exactly(
    server: ServerProcess,
) -> None:
    alice, bob = users(server, "alice", "bob")
    in_room("#dev", alice)
    assert alice.command("!topic  indented") == [b"212 The topic of #dev is now:  indented"]
    assert alice.command("!msg bob  indented") == [b"215 Sent to bob."]
    assert bob.next_line() == private("alice", " indented")


# -- history (6.3) -----------------------------------------------------------------------------------


def history_server(start_server: ServerFactory, path: Path) -> ServerProcess:
    return start_server("--db", str(path))


def history_lines(reply: list[bytes], started: float) -> list[bytes]:
    """The `@name: text` part of each history line, checking each time is UTC between `started` and now."""
    shown: list[bytes] = []
    now = time.time()
    for line in reply[:-1]:
        match = HISTORY_LINE.fullmatch(line)
        assert match is not None, line
        when = calendar.timegm(time.strptime(match[1].decode(), "%Y-%m-%d %H:%M:%SZ"))
        assert int(started) - 1 <= when <= now + 1, (line, started, now)
        shown.append(match[2])
    return shown


def test_history_shows_the_last_20_lines_of_my_room_oldest_first(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    started = time.time()
    server = history_server(start_server, tmp_path / "history.sqlite3")
    alice, bob, carol = users(server, "alice", "bob", "carol")
    in_room("#Dev", alice, bob)
    said: list[bytes] = []
    for number in range(25):  # two speakers, each line received before the next is said: one order
        speaker, listener = (alice, bob) if number % 2 else (bob, alice)
        said.append(speaker.say(f"line {number}"))
        assert listener.next_line() == said[-1]
    carol.say("in the lobby, not in #Dev")
    assert alice.command("!msg bob private, never kept") == [b"215 Sent to bob."]
    assert bob.next_line() == private("alice", "private, never kept")
    assert bob.command("!topic not a line") == [b"212 The topic of #Dev is now: not a line"]
    assert carol.command("!join #dev") == [b"210 You are now in #Dev (3 members)."]
    reply = carol.command("!history")
    assert reply[-1] == b"217 20 lines of #Dev."
    assert history_lines(reply, started) == said[5:]


def test_history_n_shows_n_lines_at_most_200_and_counts_them(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    started = time.time()
    server = history_server(start_server, tmp_path / "history.sqlite3")
    alice, bob = users(server, "alice", "bob")
    in_room("#dev", alice)
    assert alice.command("!history") == [b"217 0 lines of #dev."]
    first = alice.say("the first")
    one = alice.command("!history 5")
    assert history_lines(one, started) == [first] and one[-1] == b"217 1 line of #dev."
    alice.peer.send(b"".join(f"@alice: n{number}\n".encode() for number in range(205)))
    said = [first, *(f"@alice: n{number}".encode() for number in range(205))]
    five = alice.command("!history 5")
    assert five[-1] == b"217 5 lines of #dev." and history_lines(five, started) == said[-5:]
    most = alice.command("!history 1000")
    assert most[-1] == b"217 200 lines of #dev." and history_lines(most, started) == said[-200:]
    assert bob.command("!history 3") == [b"217 0 lines of #lobby."]


def test_history_holds_room_lines_only_never_private_lines_or_commands(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    started = time.time()
    server = history_server(start_server, tmp_path / "history.sqlite3")
    alice, bob = users(server, "alice", "bob")
    kept = [alice.say("one")]
    assert alice.command("!msg bob whispered") == [b"215 Sent to bob."]
    alice.command("!list")
    alice.say("!!bang")
    kept.append(b"@alice: !bang")
    assert bob.next_lines(3) == [kept[0], private("alice", "whispered"), kept[1]]
    kept.append(bob.say("two"))
    reply = bob.command("!history")
    assert reply[-1] == b"217 3 lines of #lobby."
    assert history_lines(reply, started) == kept


def test_a_plain_peer_gets_no_history_when_it_registers(start_server: ServerFactory, tmp_path: Path) -> None:
    server = history_server(start_server, tmp_path / "history.sqlite3")
    alice, bob = users(server, "alice", "bob")
    alice.say("said before plain came")
    assert bob.next_line() == b"@alice: said before plain came"
    plain = server.register("plain")
    marker = alice.say("marker")
    assert plain.recv_line() == marker


def test_history_survives_a_restart_and_a_sigkill(start_server: ServerFactory, tmp_path: Path) -> None:
    started = time.time()
    path = tmp_path / "history.sqlite3"
    server = history_server(start_server, path)
    (alice,) = users(server, "alice")
    before = [alice.say("before the restart"), alice.say("second")]
    assert alice.command("!list")[-1] == b"213 1 member in #lobby."  # both lines were read and kept
    server.close_peers()
    assert server.stop() == 0
    server = history_server(start_server, path)
    (alice,) = users(server, "alice")
    reply = alice.command("!history")
    assert history_lines(reply, started) == before and reply[-1] == b"217 2 lines of #lobby."
    before.append(alice.say("before the kill"))
    # Reading history writes every line queued before the read, so this one is on disk when it answers.
    assert history_lines(alice.command("!history"), started) == before
    server.stop(signal.SIGKILL)
    server = history_server(start_server, path)
    (alice,) = users(server, "alice")
    reply = alice.command("!history")
    assert history_lines(reply, started) == before and reply[-1] == b"217 3 lines of #lobby."
