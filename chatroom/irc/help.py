"""HELP (and HELPOP): one short text per IRC command the listener answers (Modern IRC 704-706, 524)."""

from __future__ import annotations

TOPICS: dict[str, list[str]] = {
    "*": [
        "chatroom speaks IRC as clients use it; channels are rooms, #lobby is where CHAT users are.",
        "Commands: AWAY INFO INVITE JOIN KICK KILL LIST LUSERS MODE MOTD NAMES NOTICE OPER PART",
        "PING PRIVMSG QUIT TIME TOPIC USERHOST WALLOPS WHO WHOIS WHOWAS. HELP <command> says more.",
    ],
    "AWAY": ["AWAY [message]: marked away (others get 301) with a message; without one, back."],
    "INFO": ["INFO: what this server is."],
    "INVITE": ["INVITE <nick> <#channel>: lets <nick> past +i and +l once."],
    "JOIN": ["JOIN <#channel>[,...] [key,...]: enter channels (made when new: you are their @)."],
    "KICK": ["KICK <#channel> <nick>[,...] [reason]: a channel operator (or IRC operator) removes a user."],
    "KILL": ["KILL <nick> [reason]: an IRC operator ends a user's connection."],
    "LIST": ["LIST [#channel,...]: channels with their member counts and topics."],
    "LUSERS": ["LUSERS: how many users, operators and channels there are."],
    "MODE": [
        "MODE <#channel> [+|-modes args]: o v (operator, voice), k key, l limit, b ban mask,",
        "e ban exception, I invite exception, m moderated, i invite-only, n no outside lines,",
        "s secret, t only @ sets the topic, C no CTCP but ACTION.",
        "MODE <nick> [+|-i|w|o]: invisible, wallops, give up operator.",
    ],
    "MOTD": ["MOTD: there is none (422)."],
    "NAMES": ["NAMES <#channel>[,...]: who is in a channel (@ operators, + voiced)."],
    "NOTICE": ["NOTICE <target> <text>: like PRIVMSG, never answered automatically."],
    "OPER": ["OPER <name> <password>: become an IRC operator (--irc-oper NAME:PASSWORD)."],
    "PART": ["PART <#channel>[,...] [reason]: leave channels."],
    "PING": ["PING <token>: the server answers PONG <token>."],
    "PRIVMSG": ["PRIVMSG <#channel|nick>[,...] <text>: say <text> to a channel or to one user."],
    "QUIT": ["QUIT [reason]: leave the server."],
    "TIME": ["TIME: the server's clock."],
    "TOPIC": ["TOPIC <#channel> [text]: show or set a channel's topic."],
    "USERHOST": ["USERHOST <nick> [...]: user@host of up to five nicks (* operator, - away)."],
    "WALLOPS": ["WALLOPS <text>: an IRC operator's message to every user with user mode +w."],
    "WHO": ["WHO <#channel|mask>: users with their flags (H here, G away, * operator, @ +)."],
    "WHOIS": ["WHOIS <nick>: a user's name, channels, server and away message."],
    "WHOWAS": ["WHOWAS <nick> [count]: who had <nick> before, newest first."],
}
