# -*- test-case-name: tests.unit.test_admin_editor -*-
"""Edit the config file's lines in place for a settings change.

The file is the operator's: an AS change replaces, inserts or deletes only
the lines of the settings it changed, and every other line (comments,
blank lines, lines of families we do not implement, commands written in
the operator's own case and order) stays byte for byte where it was.

What changed is found by comparing the canonical lines of the old and the
new settings (:meth:`AdminTree.write`), setting by setting: each canonical
line has a key (:meth:`AdminTree.line_key`) and so does each file line.  For
a changed key the last file line with that key is replaced by the new
canonical line; a key that is gone has its file lines deleted; a new key
gets its line next to its own kind (another K-line), its entry (the lines
of one oper or server definition) or its family, else at the end.

The edited text is then loaded again: if it does not give the new
settings (a hand-written ``OPER x FLAG ADD`` line later in the file
overriding the changed ``OPER x ADD`` line; a ban deleted and added again,
whose place in the list changed), the new line goes after its kind instead
of over an old one, and the lines of the touched entries that no canonical
line stands for are deleted too (only those really in the way); if none of
that gives the new settings, :class:`EditError` says which lines are in the
way and nothing is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Sequence

from conferenceroom.admin.settings import BAN_KINDS, Settings
from conferenceroom.admin.tree import AdminError, AdminTree


#: How many lines in the way are tried one by one to keep them (each try reloads the file).
MAX_RETRIES = 16


class EditError(AdminError):
    """The file cannot be edited in place to give the new settings."""


@dataclass
class Line:
    """One line of the file: its text, its line ending and (for a command of ours) its key."""

    text: str
    ending: str = "\n"
    key: tuple[Any, ...] | None = None

    @property
    def is_command(self) -> bool:
        """True for a command line (not blank, not a comment)."""
        stripped = self.text.strip()
        return bool(stripped) and not stripped.startswith("#")


def file_lines(text: str) -> list[str]:
    """The lines of a config file with their endings: only ``\n`` ends a line
    (not the other separators ``str.splitlines`` knows)."""
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def split_lines(text: str, tree: AdminTree) -> list[Line]:
    """The file as :class:`Line` objects (line endings kept as they are)."""
    lines = []
    for raw in file_lines(text):
        body = raw.rstrip("\r\n")
        line = Line(body, raw[len(body):])
        if line.is_command:
            words = body.split()
            if words[0].upper() not in tree.unsupported:
                line.key = tree.line_key(words)
        lines.append(line)
    return lines


def join_lines(lines: Sequence[Line], eol: str = "\n") -> str:
    """The text of ``lines``; a last line without a line ending keeps it so
    (one that is no longer last gets ``eol``)."""
    last = len(lines) - 1
    return "".join(line.text + (line.ending or ("" if i == last else eol)) for i, line in enumerate(lines))


def _eol(lines: Sequence[Line]) -> str:
    """The file's usual line ending (``\r\n`` for a DOS file)."""
    endings = [line.ending for line in lines if line.ending]
    return max(set(endings), key=endings.count) if endings else "\n"


def _group(key: tuple[Any, ...]) -> tuple[Any, ...]:
    """The entry a key belongs to: one oper or server definition, else its family."""
    return (key[0], key[1])


def _kind(key: tuple[Any, ...]) -> tuple[Any, ...]:
    """Lines of one kind: the K-lines, one oper's access masks, the trigger exceptions."""
    return key[:3]


def _canonical(tree: AdminTree, settings: Settings, now: float | None) -> dict[Any, str]:
    """The canonical lines of ``settings`` by key (each key has one line)."""
    out: dict[Any, str] = {}
    for text in tree.write(settings, now):
        out.setdefault(tree.line_key(text.split()), text)
    return out


def comparable(settings: Settings) -> Settings:
    """``settings`` without what a file does not hold (ban set-at times: a
    ban written without ``at=`` is dated when read; the config folder),
    for checking an edited file against the settings."""
    changes = {attr: tuple(replace(e, set_at=0) for e in getattr(settings, attr)) for attr in BAN_KINDS.values()}
    return replace(settings, config_dir="", **changes)


class Editor:
    """Edits for one change of settings (old -> new) on the lines of one file."""

    def __init__(self, tree: AdminTree, lines: list[Line], old: Settings, new: Settings,
                 now: float | None) -> None:
        self.tree = tree
        self.lines = lines
        self.eol = _eol(lines)
        self.before = _canonical(tree, old, now)
        self.after = _canonical(tree, new, now)
        self.after_order = {key: i for i, key in enumerate(self.after)}
        self.changed = [k for k in self.before if self.after.get(k) != self.before[k]]
        self.changed += [k for k in self.after if k not in self.before]
        #: The key that creates each entry (``OPER x ADD``, ``SERVER x ADD``): its first canonical line.
        self.creator: dict[Any, Any] = {}
        for key in [*self.before, *self.after]:
            if key[1]:
                self.creator.setdefault(_group(key), key)

    def _live_from(self, lines: list[Line], group: tuple[Any, ...]) -> int:
        """Where the entry's present lines start: at its last ``ADD`` (the
        lines before a ``DEL`` and a new ``ADD`` in the file no longer count)."""
        creator = self.creator.get(group)
        if creator is None:
            return 0
        starts = [i for i, line in enumerate(lines) if line.key == creator]
        return starts[-1] if starts else 0

    def apply(self, reuse: bool = True) -> list[Line]:
        """Replace, delete and insert the lines of every changed key; return the new lines.

        With ``reuse`` off, a key the old settings did not have gets a new
        line even if the file has lines for it (a ban added, deleted and now
        added again goes after the bans added since, as in the settings).
        """
        lines = list(self.lines)
        for key in self.changed:
            text = self.after.get(key)
            start = 0 if text is None else self._live_from(lines, _group(key))
            at = [] if text is not None and not reuse and key not in self.before else [
                i for i, line in enumerate(lines) if line.key == key and i >= start]
            if text is None:
                for i in reversed(at):
                    del lines[i]
            elif at:
                lines[at[-1]] = replace(lines[at[-1]], text=text)
            else:
                self._insert(lines, Line(text, self.eol, key))
        return lines

    def in_the_way(self, lines: list[Line]) -> list[int]:
        """Lines that may undo the change: in the entries touched, lines no
        canonical line stands for (``OPER x FLAG ADD``, ``SERVER x DEL``, an
        expired ban) and the earlier copies of a changed key's line."""
        groups = {_group(k) for k in self.changed}
        last = {}
        for i, line in enumerate(lines):
            if line.key is not None:
                last[line.key] = i
        return [i for i, line in enumerate(lines)
                if line.key is not None and _group(line.key) in groups
                and (line.key not in self.after or (line.key in self.changed and last[line.key] != i))]

    def _insert(self, lines: list[Line], new: Line) -> None:
        """Put a new line after its kind and what must precede it, else before the
        rest of its entry, else after its family, else at the end."""
        key = new.key
        assert key is not None
        start = self._live_from(lines, _group(key))
        keyed = [(i, line.key) for i, line in enumerate(lines)
                 if line.key is not None and (i >= start or _group(line.key) != _group(key))]
        order = self.after_order[key]
        group = [(i, self.after_order.get(k)) for i, k in keyed if _group(k) == _group(key)]
        # After the last line of its kind and the last line that must come before it.
        after = [i for i, k in keyed if _kind(k) == _kind(key)]
        after += [i for i, o in group if o is not None and o < order]
        if after:
            lines.insert(max(after) + 1, new)
            return
        later = [i for i, o in group if o is not None and o > order]
        if later and key[1]:  # the first line of an entry goes before the rest of it, above their comments
            i = min(later)
            while i > 0 and lines[i - 1].is_command is False and lines[i - 1].text.strip():
                i -= 1
            lines.insert(i, new)
            return
        family = [i for i, k in keyed if k[0] == key[0]]
        if family:
            lines.insert(family[-1] + 1, new)
            return
        if lines and lines[-1].text.strip():
            lines.append(Line("", self.eol))  # a new family at the end, set off by a blank line
        lines.append(new)


def edit(tree: AdminTree, text: str, old: Settings, new: Settings, now: float | None,
         load: Any) -> str:
    """``text`` edited in place from ``old`` to ``new``; ``load(text)`` must give settings.

    Raises :class:`EditError` when no in-place edit gives ``new``.
    """
    lines = split_lines(text, tree)
    editor = Editor(tree, lines, old, new, now)
    if not editor.changed:
        return text
    want = comparable(new)

    def gives_new(candidate: list[Line]) -> bool:
        try:
            return comparable(load(join_lines(candidate, editor.eol))) == want
        except AdminError:
            return False

    tried = []
    for reuse in (True, False):
        edited = editor.apply(reuse)
        if edited in tried:
            continue
        tried.append(edited)
        if gives_new(edited):
            return join_lines(edited, editor.eol)
        suspects = editor.in_the_way(edited)
        drop = set(suspects)
        if gives_new([line for i, line in enumerate(edited) if i not in drop]):
            # Keep every suspect line that is not really in the way (a few reloads).
            for i in suspects[:MAX_RETRIES]:
                drop.discard(i)
                if not gives_new([line for j, line in enumerate(edited) if j not in drop]):
                    drop.add(i)
            return join_lines([line for i, line in enumerate(edited) if i not in drop], editor.eol)
    blocking = [n for n, line in enumerate(lines, 1)
                if line.key is not None and _group(line.key) in {_group(k) for k in editor.changed}]
    where = ", ".join(map(str, blocking[:10])) or "?"
    raise EditError(f"The config file cannot be changed in place: its lines {where} say otherwise; "
                    "edit them by hand and REHASH. Nothing was changed")
