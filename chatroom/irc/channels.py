"""IRC channel modes the hub does not keep: operators and voices, key, limit, +m, +i, +n, mask lists
(+b bans, +e ban exceptions, +I invite exceptions), invitations.

One `Channel` per room that has any, in IrcShared.channels; forgotten with
the room (its last member gone) or when the room is made anew. They bind IRC
users only: a CHAT/1.0 or CHAT/1.1 user joins with `!join` whatever the modes
say (its wire has no way to give a key), which docs/IRC.md states.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from chatroom.limits import IRC_MAX_BANS_PER_CHANNEL, IRC_MAX_INVITES_PER_CHANNEL


@dataclass
class Channel:
    ops: set[str] = field(default_factory=set)  # name keys given +o (the creator is one unless -o)
    voiced: set[str] = field(default_factory=set)  # name keys given +v
    key: str = ""  # +k: JOIN needs it
    limit: int = 0  # +l: JOIN refused at this many members (0: no limit)
    created: int = 0  # when the room was made (RPL_CREATIONTIME), seconds since the epoch
    no_external: bool = True  # +n: lines from outside refused (-n: they reach the IRC members only)
    moderated: bool = False  # +m: only @ and + may speak
    invite_only: bool = False  # +i: JOIN needs an INVITE
    no_ctcp: bool = False  # +C: no CTCP to the channel but ACTION (/me)
    name: str = ""  # the room as first written
    # +b, +e, +I: mask -> (who set it, when), each at most IRC_MAX_BANS_PER_CHANNEL
    lists: dict[str, dict[str, tuple[str, int]]] = field(default_factory=lambda: {"b": {}, "e": {}, "I": {}})
    invited: set[str] = field(default_factory=set)  # name keys INVITEd (used up by their JOIN)

    def modes(self, secret: bool, unlocked: bool, show_key: bool) -> list[str]:
        """The mode string and its parameters, as RPL_CHANNELMODEIS (324) gives them."""
        letters = (
            "n" * self.no_external
            + "t" * (not unlocked)
            + "s" * secret
            + "m" * self.moderated
            + "i" * self.invite_only
            + "C" * self.no_ctcp
        )
        params: list[str] = []
        if self.key:
            letters += "k"
            params.append(self.key if show_key else "*")
        if self.limit:
            letters += "l"
            params.append(str(self.limit))
        return ["+" + letters, *params]

    def is_banned(self, mask: str) -> bool:
        """`mask` is nick!user@host, folded: whether a +b mask matches it."""
        return self.matches("b", mask) and not self.matches("e", mask)

    def matches(self, letter: str, mask: str) -> bool:
        """Whether a mask of the list `letter` (b, e, I) matches nick!user@host `mask`, folded."""
        return any(fnmatch.fnmatchcase(mask, pattern) for pattern in self.lists[letter])

    def add(self, letter: str, mask: str, by: str, when: int) -> bool:
        """Put `mask` on the list `letter`; False when it is there already or the list is full."""
        masks = self.lists[letter]
        if mask in masks or len(masks) >= IRC_MAX_BANS_PER_CHANNEL:
            return False
        masks[mask] = (by, when)
        return True

    def ban(self, mask: str, by: str, when: int) -> bool:
        return self.add("b", mask, by, when)

    def invite(self, key: str) -> None:
        if len(self.invited) >= IRC_MAX_INVITES_PER_CHANNEL:
            self.invited.pop()
        self.invited.add(key)


def normal_mask(mask: str) -> str:
    """'Bar' -> 'bar!*@*', 'bar!u' -> 'bar!u@*': a ban mask in full, folded (CASEMAPPING=ascii)."""
    mask = mask.lower()
    if "!" not in mask and "@" not in mask:
        mask += "!*@*"
    elif "@" not in mask:
        mask += "@*"
    elif "!" not in mask:
        mask = "*!" + mask
    return mask
