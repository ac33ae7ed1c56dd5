"""docs/linking.md, read as an operator would use it: every file and command it shows is accepted.

The guide's bootstrap files load as config files, every ``/as`` line in its
examples is a valid AS command (run in order, block by block, as typed on
one server), and the replies it quotes are the ones the server gives.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conferenceroom.admin import AdminError, Settings, build_tree
from conferenceroom.admin.configfile import parse_config

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "linking.md"
TREE = build_tree(bcrypt_rounds=4)
_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
_HANDLE = re.compile(r"^server (\S+) ", re.I)


def blocks() -> list[str]:
    """Every fenced code block of the guide, in order."""
    return _FENCE.findall(GUIDE.read_text(encoding="utf-8"))


def as_blocks() -> list[list[str]]:
    """The AS commands of each code block that holds ``/as`` lines (placeholders like ``<n>`` left out)."""
    found = []
    for block in blocks():
        lines = [line.strip()[len("/as "):] for line in block.splitlines() if line.strip().startswith("/as ")]
        lines = [line for line in lines if "<" not in line]
        if lines:
            found.append(lines)
    return found


def run_block(lines: list[str]) -> list[str]:
    """Run *lines* in order on one server; definitions the block only changes exist beforehand."""
    settings = Settings()
    added = {m.group(1).lower() for line in lines if (m := _HANDLE.match(line)) and line.split()[2] == "add"}
    for line in lines:
        m = _HANDLE.match(line)
        if m and m.group(1).lower() not in added:
            handle = m.group(1)
            settings = settings.apply([f"server {handle} add", f"server {handle} set serial 100-0000-001"], tree=TREE)
            added.add(handle.lower())
    replies: list[str] = []
    for line in lines:
        try:
            result = TREE.execute(settings, line.split())
        except AdminError as exc:
            pytest.fail(f"the guide's `/as {line}` is refused: {exc}")
        settings = result.settings
        replies += result.replies
    return replies


def test_the_guide_has_examples_to_check() -> None:
    """The guide exists and shows bootstrap files and AS commands (so the tests below check something)."""
    assert len([b for b in blocks() if b.startswith("general set name ")]) >= 2
    assert sum(len(lines) for lines in as_blocks()) >= 50


@pytest.mark.parametrize("index", range(len(as_blocks())))
def test_every_as_line_of_the_guide_is_accepted(index: int) -> None:
    """Each example block's /as lines, typed in order, are all accepted (no refusal NOTICE)."""
    run_block(as_blocks()[index])


def test_the_bootstrap_files_load() -> None:
    """Each bootstrap file the guide shows loads as a config file, with the name and serial it shows."""
    for block in blocks():
        if not block.startswith("general set name "):
            continue
        loaded = parse_config(block, "guide.conf", TREE)
        name = block.split()[3]
        assert loaded.settings.name == name
        assert loaded.settings.serial == re.search(r"general set serial (\S+)", block).group(1)


def test_quoted_replies_are_what_the_server_answers() -> None:
    """The replies the guide quotes for soprano's definition of tenor are the NOTICEs the server sends."""
    all_blocks = blocks()
    quoted = next(i for i, b in enumerate(all_blocks) if b.startswith("Server definition tenor added"))
    commands = [line.strip()[len("/as "):] for line in all_blocks[quoted - 1].splitlines() if line.strip()]
    assert run_block(commands) == all_blocks[quoted].splitlines()
