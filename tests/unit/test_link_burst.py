"""The burst: dependency order (servers, users, channels, EOB), 512-byte lines, nothing sent back."""

from __future__ import annotations

from conferenceroom.link.burst import burst_messages
from conferenceroom.modes import ModeChange
from conferenceroom.wire import encode_line
from tests.unit.linknet import CR_CAPS, HYBRID_CAPS, Mesh, feed, raw_link


def lines(node, link) -> list[str]:
    return [encode_line(m).decode().rstrip("\r\n") for m in burst_messages(node.network, link)]


def test_burst_order_servers_users_channels_eob():
    """SIDs (uplinks first), then UIDs with AWAY, then SJOIN/BMASK/TBURST per channel, then our EOB."""
    mesh = Mesh()
    alpha = mesh.node("alpha.lab", "1AA")
    gamma = raw_link(alpha, "gamma.lab", "3CC", CR_CAPS)
    feed(alpha, gamma, ":3CC SID far.lab 2 4FR + :Far", ":4FR SID farther.lab 3 5FT + :Farther",
         ":5FT UID fay 3 1795607297 + ~fay h h 0 5FTAAAAAA * :Fay")
    alice = alpha.add_user("alice")
    alpha.network.set_away(alice, "gone fishing")
    channel = alpha.network.join(alice, "#alpha").channel
    alpha.network.join(alpha.user("fay"), "#alpha", origin=gamma.route)
    alpha.network.apply_channel_modes(alice, channel, [
        ModeChange(True, "k", "sesame"), ModeChange(True, "l", "42"), ModeChange(True, "b", "*!evil@*"),
        ModeChange(True, "e", "*!*@good.example"),
    ])
    alpha.network.set_topic(alice, channel, "Alpha channel topic", alice.mask, ts=1795607297)
    beta = raw_link(alpha, "beta.lab", "2BB", HYBRID_CAPS)
    ts = channel.ts
    assert lines(alpha, beta) == [
        ":1AA SID gamma.lab 2 3CC + :gamma.lab server",
        ":3CC SID far.lab 3 4FR + Far",
        ":4FR SID farther.lab 4 5FT + Farther",
        ":5FT UID fay 4 1795607297 + ~fay h h 0 5FTAAAAAA * Fay",
        f":1AA UID alice 1 {int(alice.nick_ts)} + alice alice.host alice.host 10.0.0.1 {alice.uid} * :Real alice",
        f":{alice.uid} AWAY :gone fishing",
        f":1AA SJOIN {ts} #alpha +ntkl sesame 42 :@{alice.uid} 5FTAAAAAA",
        f":1AA BMASK {ts} #alpha b *!evil@*",
        f":1AA BMASK {ts} #alpha e *!*@good.example",
        f":1AA TBURST {ts} #alpha 1795607297 alice!alice@alice.host :Alpha channel topic",
        ":1AA EOB",
    ]


def test_burst_sends_nothing_behind_the_link_back():
    """Servers, users and members behind the receiving link are left out; a channel only they hold too."""
    mesh = Mesh()
    alpha = mesh.node("alpha.lab", "1AA")
    beta = raw_link(alpha, "beta.lab", "2BB", HYBRID_CAPS)
    feed(alpha, beta, ":2BB SID fake.lab 2 9FK + :x", ":2BB UID carol 1 1795607297 + ~c h h 0 2BBAAAAAA * :C",
         ":2BB SJOIN 1795607297 #theirs +nt :@2BBAAAAAA")
    assert lines(alpha, beta) == [":1AA EOB"]


def test_owner_in_the_burst_follows_the_peer():
    """An owner is ``~`` to a CR-OWNER peer and ``@`` to hybrid; the SJOIN never uses our client prefix '.'."""
    mesh = Mesh()
    alpha = mesh.node("alpha.lab", "1AA")
    alice = alpha.add_user("alice")
    channel = alpha.network.join(alice, "#c").channel
    alpha.network.apply_channel_modes(alpha.network.me, channel, [ModeChange(True, "q", "alice", alice)])
    tenor = raw_link(alpha, "tenor.lab", "3TN", CR_CAPS)
    beta = raw_link(alpha, "beta.lab", "2BB", HYBRID_CAPS)
    assert f":1AA SJOIN {channel.ts} #c +nt ~@{alice.uid}" in lines(alpha, tenor)
    assert f":1AA SJOIN {channel.ts} #c +nt @{alice.uid}" in lines(alpha, beta)


def test_big_channels_are_split_to_fit_512_bytes():
    """300 members go in several SJOIN lines of at most 512 bytes, every member exactly once, modes on each."""
    mesh = Mesh()
    alpha = mesh.node("alpha.lab", "1AA")
    users = [alpha.add_user(f"u{i}") for i in range(300)]
    for user in users:
        alpha.network.join(user, "#big")
    channel = alpha.network.find_channel("#big")
    for i in range(40):
        alpha.network.apply_channel_modes(users[0], channel, [ModeChange(True, "b", f"*!*@{'x' * 40}{i}.example")])
    beta = raw_link(alpha, "beta.lab", "2BB", HYBRID_CAPS)
    out = list(burst_messages(alpha.network, beta))
    sjoins = [m for m in out if m.command == "SJOIN"]
    bmasks = [m for m in out if m.command == "BMASK"]
    assert len(sjoins) > 1 and len(bmasks) > 1
    for msg in sjoins + bmasks:
        assert len(encode_line(msg)) <= 512
        assert msg.params[:2] == (str(channel.ts), "#big")
    assert all(m.params[2] == "+nt" for m in sjoins)
    members = [tok for m in sjoins for tok in m.params[-1].split()]
    assert sorted(t.lstrip("@") for t in members) == sorted(u.uid for u in users)
    masks = [mask for m in bmasks for mask in m.params[-1].split()]
    assert len(masks) == 40 and len(set(masks)) == 40
    kinds = [m.command for m in out]
    assert kinds.index("BMASK") > max(i for i, k in enumerate(kinds) if k == "SJOIN")
    assert kinds[-1] == "EOB"


def test_burst_replayed_on_another_server_rebuilds_the_state():
    """A burst fed to a fresh server yields the same users, channels, modes, lists and topics there."""
    from tests.unit.linknet import snapshot

    mesh = Mesh()
    alpha, beta = mesh.node("alpha.lab", "1AA"), mesh.node("beta.lab", "2BB")
    alice, bob = alpha.add_user("alice"), alpha.add_user("bob")
    channel = alpha.network.join(alice, "#c").channel
    alpha.network.join(bob, "#c")
    alpha.network.apply_channel_modes(alice, channel, [ModeChange(True, "v", "bob", bob),
                                                       ModeChange(True, "I", "*!*@friends")])
    alpha.network.set_topic(alice, channel, "topic", alice.mask)
    mesh.link(alpha, beta)
    assert snapshot(alpha.network) == snapshot(beta.network)


# -- the burst written as text (burst_text) -------------------------------------------


def _varied_network():
    """A node with remote servers, local and remote users (one over TLS with a certificate, one logged
    in), owners, keys, limits, long lists and topics."""
    from conferenceroom.network import User
    from tests.unit.linknet import LocalClient

    mesh = Mesh()
    alpha = mesh.node("alpha.lab", "1AA")
    gamma = raw_link(alpha, "gamma.lab", "3CC", CR_CAPS)
    feed(alpha, gamma, ":3CC SID far.lab 2 4FR + :Far away", ":4FR SID farther.lab 3 5FT + :Farther",
         ":5FT UID fay 3 1795607297 +iw ~fay h.far rh.far 10.1.1.1 5FTAAAAAA fayacct :Fay",
         ":3CC UID gus 2 1795607298 + gus h.g h.g 0 3CCAAAAAB * ::starts with a colon",
         ":3CC SJOIN 1795600000 #far +nt :@5FTAAAAAA +3CCAAAAAB")
    users = [alpha.add_user(f"u{i}") for i in range(120)]
    long_name = "Ünïcødé " * 60  # far past 510 bytes: cut on a character boundary
    odd = User(alpha.network.next_uid(), "odd", "odd", "odd.host", long_name, alpha.network.me, LocalClient(),
               ip="10.0.0.9", signon=alpha.network.now())
    alpha.network.add_user(odd)
    quiet = User(alpha.network.next_uid(), "quiet", "quiet", "quiet.host", "", alpha.network.me, LocalClient(),
                 ip="", signon=alpha.network.now())
    alpha.network.add_user(quiet)
    odd.set_mode("z")  # a TLS user with a client certificate: CERTFP follows its UID
    odd.certfp = "ab" * 32
    alpha.network.set_account(users[4], "acct4")  # a logged-in user: +r and the account in its UID
    alpha.network.set_away(users[0], "gone fishing")
    alpha.network.set_away(users[1], ":colon")
    alpha.network.set_away(users[2], "single")
    big = alpha.network.join(users[0], "#big").channel
    for user in users[1:]:
        alpha.network.join(user, "#big")
    alpha.network.join(alpha.user("fay"), "#big", origin=gamma.route)
    alpha.network.apply_channel_modes(users[0], big, [
        ModeChange(True, "q", "u0", users[0]), ModeChange(True, "v", "u5", users[5]),
        ModeChange(True, "o", "u7", users[7]), ModeChange(True, "v", "u7", users[7]),
        ModeChange(True, "k", "sesame"), ModeChange(True, "l", "42"), ModeChange(True, "m"), ModeChange(True, "s"),
        *[ModeChange(True, "b", f"*!*@{'é' * 30}{i}.example") for i in range(40)],
        ModeChange(True, "e", "*!*@good.example"), ModeChange(True, "I", "*!*@friends"),
    ])
    alpha.network.set_topic(users[0], big, "Big channel topic", users[0].mask, ts=1795607297)
    small = alpha.network.join(users[3], "#Small").channel
    alpha.network.set_topic(users[3], small, "one-word", users[3].mask, ts=1795607299)
    alpha.network.join(odd, "#ünï")
    alpha.network.join(quiet, "#quiet")
    alpha.network.set_topic(quiet, alpha.network.find_channel("#quiet"), ":colon topic", "quiet", ts=5)
    return alpha


def _message_lines(node, link) -> list[str]:
    """The burst as the Message path writes it: every line through encode_line (refused lines left out)."""
    out = []
    for msg in burst_messages(node.network, link):
        try:
            out.append(encode_line(msg).decode("utf-8").rstrip("\r\n"))
        except ValueError:
            continue
    return out


def test_burst_text_is_the_message_burst_line_for_line():
    """For a hybrid peer and for one of ours, burst_text writes exactly the lines the Message path writes."""
    from conferenceroom.link.burst import burst_text

    alpha = _varied_network()
    for caps in (HYBRID_CAPS, CR_CAPS):
        beta = raw_link(alpha, f"beta{len(caps)}.lab", f"2B{len(caps) % 10}", caps)
        text = burst_text(alpha.network, beta)
        assert text == _message_lines(alpha, beta)
        assert all(len(line.encode("utf-8")) <= 510 for line in text)
        assert len(text) > 140 and text[-1] == ":1AA EOB"


def test_burst_text_rebuilds_the_same_state_on_the_far_side():
    """The text burst fed to a fresh server gives it the same users, channels, statuses, lists and topics."""
    from conferenceroom.link.burst import burst_text
    from tests.unit.linknet import snapshot

    alpha = _varied_network()
    mesh = alpha.mesh
    beta = mesh.node("beta.lab", "2BB")
    la = raw_link(alpha, "beta.lab", "2BB", CR_CAPS)
    lb = raw_link(beta, "alpha.lab", "1AA", CR_CAPS)
    feed(beta, lb, ":1AA SID gamma.lab 2 3CC + :gamma")
    feed(beta, lb, *[line for line in burst_text(alpha.network, la) if " SID gamma.lab " not in line])
    mine, theirs = snapshot(alpha.network), snapshot(beta.network)
    mine["servers"] = theirs["servers"] = []
    assert mine == theirs


def test_burst_text_refuses_what_the_message_path_refuses():
    """A user whose ident holds a space, or a realname with a line break, is never written raw: same as Messages."""
    from conferenceroom.link.burst import burst_text
    from conferenceroom.network import User
    from tests.unit.linknet import LocalClient

    mesh = Mesh()
    alpha = mesh.node("alpha.lab", "1AA")
    alpha.add_user("fine")
    spaced = User(alpha.network.next_uid(), "spaced", "a b", "h", "Spaced", alpha.network.me, LocalClient())
    alpha.network.add_user(spaced)
    broken = User(alpha.network.next_uid(), "broken", "b", "h", "Broken", alpha.network.me, LocalClient())
    alpha.network.add_user(broken)
    beta = raw_link(alpha, "beta.lab", "2BB", HYBRID_CAPS)
    text = burst_text(alpha.network, beta)
    assert text == _message_lines(alpha, beta)
    assert any(broken.uid in line for line in text) and not any(spaced.uid in line for line in text)
    broken.realname = "line\r\nQUIT :x"  # no command lets a client do this: the text path must not trust it
    text = burst_text(alpha.network, beta)
    assert text == _message_lines(alpha, beta)
    assert any(alpha.user("fine").uid in line for line in text)
    assert not any(spaced.uid in line or broken.uid in line or "QUIT" in line for line in text)


def test_a_user_on_ipv6_loopback_crosses_the_link():
    """A user whose address starts with ':' (``::1``) is bursted and announced with ``0::1``, as hybrid writes it."""
    from conferenceroom.link.burst import burst_text
    from tests.unit.linknet import snapshot

    mesh = Mesh()
    alpha, beta = mesh.node("alpha.lab", "1AA"), mesh.node("beta.lab", "2BB")
    early = alpha.add_user("early", ip="::1")
    link = raw_link(alpha, "gamma.lab", "3CC", HYBRID_CAPS)
    assert any(f" 0::1 {early.uid} " in line for line in burst_text(alpha.network, link))
    mesh.link(alpha, beta)
    late = alpha.add_user("late", ip="::1")
    mesh.pump()
    assert beta.user("early").ip == "0::1" and beta.user("late").uid == late.uid
    assert snapshot(alpha.network)["channels"] == snapshot(beta.network)["channels"]
