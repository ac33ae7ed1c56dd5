# -*- test-case-name: tests.unit.test_numerics -*-
"""Every numeric reply in one place: name -> (code, parameter templates).

Each template after the code becomes one parameter (after the target nick)
and is filled with :meth:`str.format` from the arguments a handler gives.
"""

from __future__ import annotations

from .wire import Message

NUMERICS: dict[str, tuple[str, ...]] = {
    "RPL_WELCOME": ("001", "Welcome to the {0} Internet Relay Chat Network {1}"),
    "RPL_YOURHOST": ("002", "Your host is {0}, running version {1}"),
    "RPL_CREATED": ("003", "This server was created {0}"),
    "RPL_MYINFO": ("004", "{0}", "{1}", "{2}", "{3}", "{4}"),
    "RPL_ISUPPORT": ("005", "*", "are supported by this server"),
    "RPL_BOUNCE": ("010", "{0}", "{1}", "{2}"),
    "RPL_TRACEOPERATOR": ("204", "Oper", "{0}", "{1}", "({2})", "{3}", "{4}"),
    "RPL_TRACEUSER": ("205", "User", "{0}", "{1}", "({2})", "{3}", "{4}"),
    "RPL_TRACESERVER": ("206", "Serv", "{0}", "{1}S", "{2}C", "{3}", "{4}", "{5}"),
    "RPL_TRACEEND": ("262", "{0}", "{1}", "End of TRACE"),
    "RPL_STATSCOMMANDS": ("212", "{0}", "{1}", "{2}", "{3}"),
    "RPL_STATSLINKINFO": ("211", "{0}", "{1}", "{2}", "{3}", "{4}", "{5}", "{6} {7} {8}"),
    "RPL_STATSCLINE": ("213", "C", "{0}", "*", "{1}", "{2}", "{3}", "{4}"),
    "RPL_ENDOFSTATS": ("219", "{0}", "End of /STATS report"),
    "RPL_UMODEIS": ("221", "{0}"),
    "RPL_STATSKLINE": ("216", "{0}", "{1}", "*", "{2}", "{3}"),
    "RPL_STATSDLINE": ("225", "{0}", "{1}", "{2}"),
    "RPL_STATSUPTIME": ("242", "Server Up {0} days {1}:{2:02d}:{3:02d}"),
    "RPL_STATSOLINE": ("243", "O", "{0}", "*", "{1}", "{2}"),
    "RPL_STATSDEBUG": ("249", "{0}", "{1}"),
    "RPL_LUSERCLIENT": ("251", "There are {0} users and {1} invisible on {2} servers"),
    "RPL_LUSEROP": ("252", "{0}", "IRC Operators online"),
    "RPL_LUSERUNKNOWN": ("253", "{0}", "unknown connection(s)"),
    "RPL_LUSERCHANNELS": ("254", "{0}", "channels formed"),
    "RPL_LUSERME": ("255", "I have {0} clients and {1} servers"),
    "RPL_ADMINME": ("256", "{0}", "Administrative info"),
    "RPL_ADMINLOC1": ("257", "{0}"),
    "RPL_ADMINLOC2": ("258", "{0}"),
    "RPL_ADMINEMAIL": ("259", "{0}"),
    "RPL_TRYAGAIN": ("263", "{0}", "Please wait a while and try again."),
    "RPL_LOCALUSERS": ("265", "{0}", "{1}", "Current local users {0}, max {1}"),
    "RPL_GLOBALUSERS": ("266", "{0}", "{1}", "Current global users {0}, max {1}"),
    "RPL_WHOISCERTFP": ("276", "{0}", "has client certificate fingerprint {1}"),
    "RPL_AWAY": ("301", "{0}", "{1}"),
    "RPL_USERHOST": ("302", "{0}"),
    "RPL_ISON": ("303", "{0}"),
    "RPL_UNAWAY": ("305", "You are no longer marked as being away"),
    "RPL_NOWAWAY": ("306", "You have been marked as being away"),
    "RPL_WHOISREGNICK": ("307", "{0}", "has identified for this nick"),
    "RPL_WHOISUSER": ("311", "{0}", "{1}", "{2}", "*", "{3}"),
    "RPL_WHOISSERVER": ("312", "{0}", "{1}", "{2}"),
    "RPL_WHOISOPERATOR": ("313", "{0}", "{1}"),
    "RPL_WHOWASUSER": ("314", "{0}", "{1}", "{2}", "*", "{3}"),
    "RPL_ENDOFWHO": ("315", "{0}", "End of WHO list"),
    "RPL_WHOISIDLE": ("317", "{0}", "{1}", "{2}", "seconds idle, signon time"),
    "RPL_ENDOFWHOIS": ("318", "{0}", "End of /WHOIS list"),
    "RPL_WHOISCHANNELS": ("319", "{0}", "{1}"),
    "RPL_LISTSTART": ("321", "Channel", "Users  Name"),
    "RPL_LIST": ("322", "{0}", "{1}", "{2}"),
    "RPL_LISTEND": ("323", "End of /LIST"),
    "RPL_CHANNELMODEIS": ("324", "{0}", "{1}"),
    "RPL_CREATIONTIME": ("329", "{0}", "{1}"),
    "RPL_WHOISACCOUNT": ("330", "{0}", "{1}", "is logged in as"),
    "RPL_NOTOPIC": ("331", "{0}", "No topic is set"),
    "RPL_TOPIC": ("332", "{0}", "{1}"),
    "RPL_TOPICWHOTIME": ("333", "{0}", "{1}", "{2}"),
    "RPL_WHOISACTUALLY": ("338", "{0}", "{1}", "actually using host"),
    "RPL_INVITING": ("341", "{0}", "{1}"),
    "RPL_INVEXLIST": ("346", "{0}", "{1}", "{2}", "{3}"),
    "RPL_ENDOFINVEXLIST": ("347", "{0}", "End of Channel Invite Exception List"),
    "RPL_EXCEPTLIST": ("348", "{0}", "{1}", "{2}", "{3}"),
    "RPL_ENDOFEXCEPTLIST": ("349", "{0}", "End of Channel Exception List"),
    "RPL_VERSION": ("351", "{0}", "{1}", "{2}"),
    "RPL_WHOREPLY": ("352", "{0}", "{1}", "{2}", "{3}", "{4}", "{5}", "{6}"),
    "RPL_NAMREPLY": ("353", "{0}", "{1}", "{2}"),
    "RPL_WHOSPCRPL": ("354", "{0}"),
    "RPL_LINKS": ("364", "{0}", "{1}", "{2} {3}"),
    "RPL_ENDOFLINKS": ("365", "{0}", "End of /LINKS list"),
    "RPL_ENDOFNAMES": ("366", "{0}", "End of /NAMES list"),
    "RPL_BANLIST": ("367", "{0}", "{1}", "{2}", "{3}"),
    "RPL_ENDOFBANLIST": ("368", "{0}", "End of Channel Ban List"),
    "RPL_ENDOFWHOWAS": ("369", "{0}", "End of WHOWAS"),
    "RPL_INFO": ("371", "{0}"),
    "RPL_MOTD": ("372", "- {0}"),
    "RPL_ENDOFINFO": ("374", "End of /INFO list"),
    "RPL_MOTDSTART": ("375", "- {0} Message of the day - "),
    "RPL_ENDOFMOTD": ("376", "End of /MOTD command"),
    "RPL_WHOISHOST": ("378", "{0}", "is connecting from {1}@{2} {3}"),
    "RPL_WHOISMODES": ("379", "{0}", "is using modes {1}"),
    "RPL_YOUREOPER": ("381", "You are now an IRC operator"),
    "RPL_REHASHING": ("382", "{0}", "Rehashing"),
    "RPL_HOSTHIDDEN": ("396", "{0}", "is now your displayed host"),
    "RPL_TIME": ("391", "{0}", "{1}", "0", "{2}"),
    "RPL_MAP": ("015", "{0}"),
    "RPL_MAPEND": ("017", "End of /MAP"),
    "ERR_UNKNOWNERROR": ("400", "{0}", "{1}"),
    "ERR_NOSUCHNICK": ("401", "{0}", "No such nick/channel"),
    "ERR_NOSUCHSERVER": ("402", "{0}", "No such server"),
    "ERR_NOSUCHCHANNEL": ("403", "{0}", "No such channel"),
    "ERR_CANNOTSENDTOCHAN": ("404", "{0}", "Cannot send to channel"),
    "ERR_TOOMANYCHANNELS": ("405", "{0}", "You have joined too many channels"),
    "ERR_WASNOSUCHNICK": ("406", "{0}", "There was no such nickname"),
    "ERR_SERVICESDOWN": ("440", "{0}", "Services are currently unavailable"),
    "ERR_TOOMANYTARGETS": ("407", "{0}", "Too many targets: {1}"),
    "ERR_NOORIGIN": ("409", "No origin specified"),
    "ERR_INVALIDCAPCMD": ("410", "{0}", "Invalid CAP subcommand"),
    "ERR_NORECIPIENT": ("411", "No recipient given ({0})"),
    "ERR_NOTEXTTOSEND": ("412", "No text to send"),
    "ERR_NOTOPLEVEL": ("413", "{0}", "No toplevel domain specified"),
    "ERR_WILDTOPLEVEL": ("414", "{0}", "Wildcard in toplevel domain"),
    "ERR_TOOMANYMATCHES": ("416", "{0}", "Too many matches, output truncated"),
    "ERR_INPUTTOOLONG": ("417", "Input line was too long"),
    "ERR_UNKNOWNCOMMAND": ("421", "{0}", "Unknown command"),
    "ERR_NOMOTD": ("422", "MOTD File is missing"),
    "ERR_NONICKNAMEGIVEN": ("431", "No nickname given"),
    "ERR_ERRONEUSNICKNAME": ("432", "{0}", "Erroneous nickname"),
    "ERR_NICKNAMEINUSE": ("433", "{0}", "Nickname is already in use"),
    "ERR_USERNOTINCHANNEL": ("441", "{0}", "{1}", "They aren't on that channel"),
    "ERR_NOTONCHANNEL": ("442", "{0}", "You're not on that channel"),
    "ERR_USERONCHANNEL": ("443", "{0}", "{1}", "is already on channel"),
    "ERR_NOTREGISTERED": ("451", "You have not registered"),
    "ERR_NEEDMOREPARAMS": ("461", "{0}", "Not enough parameters"),
    "ERR_ALREADYREGISTERED": ("462", "You may not reregister"),
    "ERR_PASSWDMISMATCH": ("464", "Password incorrect"),
    "ERR_YOUREBANNEDCREEP": ("465", "You are banned from this server: {0}"),
    "ERR_KEYSET": ("467", "{0}", "Channel key already set"),
    "ERR_CHANNELISFULL": ("471", "{0}", "Cannot join channel (+l)"),
    "ERR_UNKNOWNMODE": ("472", "{0}", "is unknown mode char to me"),
    "ERR_INVITEONLYCHAN": ("473", "{0}", "Cannot join channel (+i)"),
    "ERR_BANNEDFROMCHAN": ("474", "{0}", "Cannot join channel (+b)"),
    "ERR_BADCHANNELKEY": ("475", "{0}", "Cannot join channel (+k)"),
    "ERR_BADCHANMASK": ("476", "{0}", "Bad Channel Mask"),
    "ERR_BANLISTFULL": ("478", "{0}", "{1}", "Channel list is full"),
    "ERR_NOPRIVILEGES": ("481", "Permission Denied- You're not an IRC operator"),
    "ERR_NOOPERFLAG": ("481", "Permission Denied - you need operator flag {0}"),
    "ERR_CHANOPRIVSNEEDED": ("482", "{0}", "You're not channel operator"),
    "ERR_HIGHERSTATUS": ("482", "{0}", "{1} has a higher channel status than you (+{2})"),
    "ERR_CHANOWNPRIVNEEDED": ("482", "{0}", "You're not a channel owner: only an owner (+q) can give or take +q"),
    "ERR_CANTKILLSERVER": ("483", "You can't kill a server!"),
    "ERR_NOOPERHOST": ("491", "No O-lines for your host"),
    "ERR_UMODEUNKNOWNFLAG": ("501", "Unknown MODE flag"),
    "ERR_USERSDONTMATCH": ("502", "Can't change mode for other users"),
    "ERR_HELPNOTFOUND": ("524", "{0}", "No help available on this topic"),
    "RPL_WHOISBOT": ("335", "{0}", "is a bot on {1}"),
    "RPL_MONONLINE": ("730", "{0}"),
    "RPL_MONOFFLINE": ("731", "{0}"),
    "RPL_MONLIST": ("732", "{0}"),
    "RPL_ENDOFMONLIST": ("733", "End of MONITOR list"),
    "ERR_MONLISTFULL": ("734", "{0}", "{1}", "Monitor list is full"),
    "RPL_HELPSTART": ("704", "{0}", "{1}"),
    "RPL_HELPTXT": ("705", "{0}", "{1}"),
    "RPL_ENDOFHELP": ("706", "{0}", "End of /HELP"),
    "ERR_INVALIDKEY": ("525", "{0}", "Key is not well-formed"),
    "RPL_WHOISSECURE": ("671", "{0}", "is using a secure connection"),
    "ERR_INVALIDMODEPARAM": ("696", "{0}", "{1}", "{2}", "{3}"),
    "RPL_LOGGEDIN": ("900", "{0}", "{1}", "You are now logged in as {1}"),
    "RPL_LOGGEDOUT": ("901", "{0}", "You are now logged out"),
    "ERR_NICKLOCKED": ("902", "You must use a nick assigned to you"),
    "RPL_SASLSUCCESS": ("903", "SASL authentication successful"),
    "ERR_SASLFAIL": ("904", "SASL authentication failed"),
    "ERR_SASLTOOLONG": ("905", "SASL message too long"),
    "ERR_SASLABORTED": ("906", "SASL authentication aborted"),
    "ERR_SASLALREADY": ("907", "You have already authenticated using SASL"),
    "RPL_SASLMECHS": ("908", "{0}", "are available SASL mechanisms"),
}


def _sanitize_middle(value: str) -> str:
    value = value.replace(" ", "_").replace("\r", "").replace("\n", "").replace("\x00", "")
    if not value:
        return "*"
    if value.startswith(":"):
        return "*" + value[1:] if len(value) > 1 else "*"
    return value


def numeric(name: str, server: str, target: str, *args: object) -> Message:
    """Build numeric ``name`` from ``server`` to ``target`` with ``args``.

    Middle parameters built from client input are made safe to send (a
    space or leading colon could not be read back), never raising.
    """
    code, *templates = NUMERICS[name]
    params = [target or "*"]
    for i, template in enumerate(templates):
        value = template.format(*args)
        last = i == len(templates) - 1
        if last:
            value = value.replace("\r", "").replace("\n", " ").replace("\x00", "")
        else:
            value = _sanitize_middle(value)
        params.append(value)
    return Message(code, tuple(params), server)


def isupport_lines(server: str, target: str, tokens: list[str], per_line: int = 13) -> list[Message]:
    """Split ISUPPORT ``tokens`` into 005 messages of at most ``per_line`` tokens."""
    out = []
    for i in range(0, len(tokens), per_line):
        chunk = tokens[i : i + per_line]
        out.append(Message("005", (target, *chunk, "are supported by this server"), server))
    return out
