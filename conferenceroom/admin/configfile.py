# -*- test-case-name: tests.unit.test_admin_configfile -*-
"""The config file: AS commands without the ``/as``, one per line.

Loading runs every line through the same :class:`AdminTree` operators use
live, starting from default settings; the first bad line stops the load with
``file:line: reason``.  Lines of families we do not implement (a
ConferenceRoom ``ConfRoom.conf`` has KEY, WEB, NEWS, BOT, ...) are reported
once per family as unsupported and kept in the file unchanged.

Saving writes the canonical lines atomically, merged into the file as it is
on disk so that the operator's comments, blank lines and unsupported lines
stay where they were (see :func:`merge_config`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from conferenceroom.admin.settings import Settings
from conferenceroom.atomicfile import write_atomically
from conferenceroom.admin.tree import AdminError, AdminTree, build_tree

HEADER = (
    "# conferenceroom configuration: AS commands without the /as, one per line.",
    "# Written by the server; '/as help' lists the commands.",
)


class ConfigError(Exception):
    """A config file that cannot be used; str() is ``file:line: reason``."""

    def __init__(self, path: str, lineno: int | None, reason: str):
        self.path = path
        self.lineno = lineno
        self.reason = reason
        where = f"{path}:{lineno}" if lineno is not None else path
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class LoadedConfig:
    """A loaded config: the settings, where they came from, and what to say.

    ``needs_rewrite`` is True when a line had to be changed to be kept (a
    plain-text password hashed, a ban duration turned into an expiry
    time): the caller should :func:`save_config`.  ``unsupported`` names
    the families (upper-case) whose lines were kept but not run.
    """

    settings: Settings
    path: str
    needs_rewrite: bool = False
    warnings: list[str] = field(default_factory=list)
    unsupported: tuple[str, ...] = ()


def _is_command(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def load_config(path: str, tree: AdminTree | None = None, now: float | None = None) -> LoadedConfig:
    """Load *path*; raise :class:`ConfigError` on the first bad line.

    *now* (unix time from the reactor; default: the tree's clock) dates bans
    given with a duration; bans already expired at *now* are dropped.
    """
    tree = tree or build_tree()
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, None, f"cannot read: {exc}") from None
    settings = Settings(config_dir=os.path.dirname(os.path.abspath(path)))
    needs_rewrite = False
    warnings: list[str] = []
    unsupported: list[str] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not _is_command(line):
            continue
        words = line.split()
        family = words[0].upper()
        if family in tree.unsupported:
            if family not in unsupported:
                unsupported.append(family)
                warnings.append(f"{path}:{lineno}: {family} commands are not supported by "
                                "conferenceroom; kept in the file unchanged")
            continue
        try:
            result = tree.execute(settings, words, now=now)
        except AdminError as exc:
            raise ConfigError(path, lineno, exc.public) from None
        settings = result.settings
        if result.rewrite:
            needs_rewrite = True
            why = result.rewrite if isinstance(result.rewrite, str) else "plain-text password hashed"
            warnings.append(f"{path}:{lineno}: {why}; the file must be rewritten")
    if now is None:
        now = tree.context.now()
    if now is not None:
        settings = settings.without_expired(now)
    warnings.extend(f"{path}: {problem}" for problem in settings.problems())
    return LoadedConfig(settings, path, needs_rewrite, warnings, tuple(unsupported))


# -- saving ----------------------------------------------------------------------


@dataclass(eq=False)
class _Block:
    """One command line of the file with the comment/blank lines above it."""

    comments: list[str]
    text: str
    key: tuple[Any, ...] | None = None  # None: a line we keep verbatim (unsupported family)
    new_index: int | None = None  # index into the canonical lines, once matched

    @property
    def family(self) -> str | None:
        """The admin family of the line, or None for a line kept verbatim."""
        return None if self.key is None else self.key[0]


def _group(key: tuple[Any, ...]) -> tuple[Any, ...]:
    """Lines of one entry (one server definition, one oper) share a group."""
    return (key[0], key[1][:1])


def _split(text: str, tree: AdminTree) -> tuple[list[_Block], list[str], list[_Block]]:
    """The file as blocks, trailing comment lines, and the known-family blocks."""
    blocks: list[_Block] = []
    pending: list[str] = []
    known = tree.family_words
    for line in text.splitlines():
        if not _is_command(line):
            pending.append(line.rstrip())
            continue
        words = line.split()
        block = _Block(pending, line.rstrip())
        pending = []
        if words[0].lower() in known:
            block.key = tree.line_key(words) or ("?",)
        blocks.append(block)
    return blocks, pending, [b for b in blocks if b.key is not None]


def merge_config(previous: str, lines: list[str], tree: AdminTree) -> str:
    """Merge canonical *lines* into the *previous* file text.

    Each command line of the file keeps the comment and blank lines above
    it; comments at the top of the file up to a blank line stay at the top.
    A file line is replaced by the canonical line that sets the same thing
    (same text first, else same setting or entry: see
    :meth:`AdminTree.line_key`); a file line with no counterpart is removed
    and its comments move to the next line.  Lines of unsupported families
    stay verbatim.  A new line goes before the next line of its entry (one
    server definition, one oper) already in the file, else after the last
    line of its entry or family, else at the end of the file.  Linear in
    the size of the file.
    """
    blocks, tail, known_blocks = _split(previous, tree)
    keys = [tree.line_key(line.split()) for line in lines]
    placed = _match(known_blocks, lines, keys)
    out, tail = _drop_unmatched(blocks, tail)
    header = _take_header(out)
    layout = _Layout(out, tail, header)
    layout.place_new(lines, keys, placed)
    return layout.render()


def _drop_unmatched(blocks: list[_Block], tail: list[str]) -> tuple[list[_Block], list[str]]:
    """The blocks still wanted; a removed block's comments move to the next one (or the tail)."""
    out: list[_Block] = []
    carry: list[str] = []
    for b in blocks:
        if b.key is not None and b.new_index is None:
            carry.extend(b.comments)  # removed: its comments stay, above the next line
            continue
        b.comments = carry + b.comments
        carry = []
        out.append(b)
    return out, carry + tail


def _take_header(out: list[_Block]) -> list[str]:
    """Comments at the top ending with a blank line: they belong to the file, not to its first line."""
    header: list[str] = []
    if out:
        first = out[0].comments
        blanks = [n for n, c in enumerate(first) if not c.strip()]
        if blanks:
            header, out[0].comments = first[:blanks[-1] + 1], first[blanks[-1] + 1:]
    return header


class _Layout:
    """Where each new line goes: before a matched line, after a line, or at the end."""

    def __init__(self, out: list[_Block], tail: list[str], header: list[str]) -> None:
        self.out = out
        self.tail = tail
        self.header = header
        self.before: dict[int, list[_Block]] = {}
        self.after: dict[int, list[_Block]] = {}
        self.at_end: list[_Block] = []

    def place_new(self, lines: list[str], keys: list[Any], placed: dict[int, _Block]) -> None:
        """Give every canonical line without a file counterpart its place."""
        last_in: dict[Any, _Block] = {}  # group or family -> last block of it in file order
        for b in self.out:
            if b.key is not None:
                last_in[_group(b.key)] = last_in[b.key[0]] = b
        next_matched = _next_matched(keys, placed)
        for i, line in enumerate(lines):
            if i in placed:
                continue
            key = keys[i]
            block = _Block([], line, key, i)
            group, family = (_group(key), key[0]) if key is not None else (None, None)
            if i in next_matched:
                self.before.setdefault(id(next_matched[i]), []).append(block)
                continue
            anchor = last_in.get(group) or last_in.get(family)
            if anchor is not None:
                self.after.setdefault(id(anchor), []).append(block)
            else:
                self._append_at_end(block)
            for k in (group, family):
                if last_in.get(k) is anchor:
                    last_in[k] = block

    def _append_at_end(self, block: _Block) -> None:
        """At the end of the file, after its trailing comments, set off by a blank line."""
        at_end, tail, out, header = self.at_end, self.tail, self.out, self.header
        previous_line = (at_end[-1].text if at_end else tail[-1] if tail
                         else out[-1].text if out else header[-1] if header else "")
        block.comments = tail[:] + ([""] if previous_line.strip() else [])
        self.tail = []
        at_end.append(block)

    def render(self) -> str:
        """The merged file text."""
        text = list(self.header)

        def emit(b: _Block) -> None:
            for x in self.before.get(id(b), ()):
                emit(x)
            text.extend(b.comments)
            text.append(b.text)
            for x in self.after.get(id(b), ()):
                emit(x)

        for b in self.out:
            emit(b)
        text.extend(self.tail)
        for b in self.at_end:
            emit(b)
        return "\n".join(text) + "\n"


def _next_matched(keys: list[Any], placed: dict[int, _Block]) -> dict[int, _Block]:
    """Canonical index -> the next matched file line of the same entry."""
    next_matched: dict[int, _Block] = {}
    following: dict[Any, _Block] = {}
    for i in range(len(keys) - 1, -1, -1):
        group = _group(keys[i]) if keys[i] is not None else None
        if group in following:
            next_matched[i] = following[group]
        if i in placed:
            following[group] = placed[i]
    return next_matched


def _match(known_blocks: list[_Block], lines: list[str], keys: list[Any]) -> dict[int, _Block]:
    """Pair canonical lines with file lines: same text first, then same key, in file order."""
    placed: dict[int, _Block] = {}
    by_text: dict[str, list[_Block]] = {}
    by_key: dict[Any, list[_Block]] = {}
    for b in reversed(known_blocks):  # reversed, so pop() takes them in file order
        by_text.setdefault(" ".join(b.text.split()), []).append(b)
        by_key.setdefault(b.key, []).append(b)
    for i, line in enumerate(lines):
        _claim(by_text.get(line, []), i, line, placed)
    for i, line in enumerate(lines):
        if i not in placed and keys[i] is not None:
            _claim(by_key.get(keys[i], []), i, line, placed)
    return placed


def _claim(candidates: list[_Block], i: int, line: str, placed: dict[int, _Block]) -> None:
    """Pair canonical line ``i`` with the first still unpaired block of ``candidates``."""
    while candidates and candidates[-1].new_index is not None:
        candidates.pop()
    if candidates:
        b = candidates.pop()
        b.new_index, b.text = i, line
        placed[i] = b


def render_config(settings: Settings, tree: AdminTree | None = None, now: float | None = None,
                  previous: str | None = None) -> str:
    """The full text :func:`save_config` writes.

    Without *previous* (no file yet) that is a comment header and the
    canonical lines.  With it, the canonical lines merged into it
    (:func:`merge_config`); should the merged text not reproduce *settings*
    (it always should), the canonical order is used instead, still keeping
    the lines of unsupported families and the leading comment block.
    """
    tree = tree or build_tree()
    lines = tree.write(settings, now)
    if previous is None or not previous.strip():
        return "\n".join([*HEADER, "", *lines]) + "\n"
    merged = merge_config(previous, lines, tree)
    if _reproduces(merged, lines, settings, tree):
        return merged
    blocks, tail, _known = _split(previous, tree)
    head = blocks[0].comments if blocks else tail
    foreign = [c for b in blocks if b.key is None for c in [*b.comments, b.text]]
    return "\n".join([*head, *lines, *foreign]) + "\n"


def _reproduces(text: str, lines: list[str], settings: Settings, tree: AdminTree) -> bool:
    """True if running *text* gives what running the canonical *lines* gives."""
    known = tree.family_words
    written = [ln for ln in text.splitlines() if _is_command(ln) and ln.split()[0].lower() in known]
    if written == lines:
        return True  # the canonical lines in the canonical order
    check = tree.without_clock()
    try:
        expected = Settings(config_dir=settings.config_dir).apply(lines, tree=check)
        got = Settings(config_dir=settings.config_dir).apply(written, tree=check)
    except AdminError:
        return False
    return got == expected


def save_config(settings: Settings, path: str, tree: AdminTree | None = None, now: float | None = None) -> None:
    """Write *settings* to *path* atomically (temp file, fsync, rename, fsync dir).

    The operator's comments, blank lines and unsupported lines in the file
    on disk are kept (see :func:`merge_config`); bans expired at *now*
    (default: the tree's clock) are left out.  The file keeps the mode of
    the file it replaces (0600 for a new file), since it holds password
    hashes and link passwords.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            previous: str | None = fh.read()
    except (OSError, UnicodeDecodeError):
        previous = None
    text = render_config(settings, tree, now, previous)
    try:
        mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o600
    write_atomically(path, text.encode("utf-8"), mode)
