"""IRC channel modes the hub does not keep: operators and voices, key, limit, +m, +i, bans, invitations.

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
    no_external: bool = True  # +n (always in effect: the hub relays only members' lines)
    moderated: bool = False  # +m: only @ and + may speak
    invite_only: bool = False  # +i: JOIN needs an INVITE
    bans: dict[str, tuple[str, int]] = field(default_factory=dict)  # +b mask -> (who set it, when)
    invited: set[str] = field(default_factory=set)  # name keys INVITEd (used up by their JOIN)

    def modes(self, secret: bool, unlocked: bool, show_key: bool) -> list[str]:
        """The mode string and its parameters, as RPL_CHANNELMODEIS (324) gives them."""
        letters = (
            "n" * self.no_external
            + "t" * (not unlocked)
            + "s" * secret
            + "m" * self.moderated
            + "i" * self.invite_only
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
        return any(fnmatch.fnmatchcase(mask, ban) for ban in self.bans)

    def ban(self, mask: str, by: str, when: int) -> bool:
        if mask in self.bans or len(self.bans) >= IRC_MAX_BANS_PER_CHANNEL:
            return False
        self.bans[mask] = (by, when)
        return True

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
