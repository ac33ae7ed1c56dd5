"""draft/multiline: a message of several lines sent as a client batch."""

from tests.helpers import feed, join_channel, make_core, register, sent

BASE = "message-tags batch echo-message server-time labeled-response"


def _three(core):
    alice = register(core, "alice", caps=BASE + " draft/multiline")
    bob = register(core, "bob", caps=BASE + " draft/multiline")
    carl = register(core, "carl", caps=BASE)
    for conn in (alice, bob, carl):
        join_channel(core, conn, "#test")
    for conn in (alice, bob, carl):
        sent(conn)
    return alice, bob, carl


def test_cap_value_names_the_limits() -> None:
    """CAP LS 302 shows draft/multiline=max-bytes=4096,max-lines=100."""
    core = make_core()
    assert core.capabilities["draft/multiline"].value == "max-bytes=4096,max-lines=100"


def test_batch_reaches_capable_clients_whole_and_others_line_by_line() -> None:
    """The sender's echo is one labeled batch (msgid and time on BATCH +, none on the lines,
    the concat tag kept); a multiline client gets the same batch; a client without the cap
    gets each line as a PRIVMSG, the first with the batch's msgid, all with its time."""
    core = make_core()
    alice, bob, carl = _three(core)
    feed(alice, "@label=xyz BATCH +123 draft/multiline #test", "@batch=123 PRIVMSG #test hello",
         "@batch=123 PRIVMSG #test :#how is ", "@batch=123;draft/multiline-concat PRIVMSG #test :everyone?",
         "BATCH -123")
    echo = sent(alice)
    start, end = echo[0], echo[-1]
    assert start.command == "BATCH" and start.params[1:] == ("draft/multiline", "#test")
    assert start.tags["label"] == "xyz" and start.tags["msgid"] and start.tags["time"]
    assert end.params == ("-" + start.params[0][1:],)
    assert [m.params[1] for m in echo[1:-1]] == ["hello", "#how is ", "everyone?"]
    assert all("msgid" not in m.tags for m in echo[1:-1]) and "draft/multiline-concat" in echo[3].tags
    relay = sent(bob)
    assert relay[0].tags["msgid"] == start.tags["msgid"] and relay[0].tags["time"] == start.tags["time"]
    assert all(m.tags.get("batch") == relay[0].params[0][1:] for m in relay[1:-1])
    fallback = sent(carl)
    assert [m.params[1] for m in fallback] == ["hello", "#how is ", "everyone?"]
    assert [m.tags.get("msgid") for m in fallback] == [start.tags["msgid"], None, None]
    assert all(m.tags["time"] == start.tags["time"] for m in fallback)


def test_blank_lines_kept_in_batch_and_dropped_in_fallback() -> None:
    """A blank line stays in the batch; the fallback skips it; client-only tags ride along."""
    core = make_core()
    alice, bob, carl = _three(core)
    feed(alice, "@+client-only-tag BATCH +1 draft/multiline #test", "@batch=1 PRIVMSG #test :",
         "@batch=1 PRIVMSG #test :second", "BATCH -1")
    assert [m.params[1] for m in sent(bob)[1:-1]] == ["", "second"]
    fallback = sent(carl)
    assert [m.params[1] for m in fallback] == ["second"] and "+client-only-tag" in fallback[0].tags


def test_concat_on_blank_line_fails_the_batch() -> None:
    """draft/multiline-concat on a blank line: FAIL BATCH MULTILINE_INVALID; nothing is sent."""
    core = make_core()
    alice, bob, carl = _three(core)
    feed(alice, "BATCH +9 draft/multiline #test", "@batch=9 PRIVMSG #test :hi",
         "@batch=9;draft/multiline-concat PRIVMSG #test :", "BATCH -9")
    (fail,) = sent(alice)
    assert fail.command == "FAIL" and fail.params[:2] == ("BATCH", "MULTILINE_INVALID")
    assert sent(bob) == [] and sent(carl) == []
