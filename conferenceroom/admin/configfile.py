# -*- test-case-name: tests.unit.test_admin_configfile -*-
"""The config file: AS commands without the ``/as``, one per line.

Loading runs every line through the same :class:`AdminTree` operators use
live, starting from default settings; the first bad line stops the load with
``file:line: reason`` (a typo gets a "did you mean").  Lines of
ConferenceRoom's own families we do not implement (KEY, WEB, NEWS, ...:
``AdminTree.unsupported``) are reported once per family and kept unchanged.

The file belongs to the operator.  A running server keeps a
:class:`ConfigFile`: the text it last read or wrote.  An AS change edits
only its own lines of that text (:mod:`conferenceroom.admin.editor`) and is
refused if the file on disk is no longer that text (edited by hand and not
yet REHASHed); every other line stays byte for byte.  Writes are atomic
(temp file, fsync, rename) and leave the file mode 0600: it holds password
hashes and link passwords.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from conferenceroom.admin.editor import edit, file_lines
from conferenceroom.admin.settings import Settings
from conferenceroom.admin.tree import AdminError, AdminTree, build_tree
from conferenceroom.atomicfile import write_atomically

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
    time); ``rewritten`` is then the text with just those words replaced,
    for :meth:`ConfigFile.rewrite`.  ``text`` is the file as read.
    ``unsupported`` names the families (upper-case) whose lines were kept
    but not run.
    """

    settings: Settings
    path: str
    needs_rewrite: bool = False
    warnings: list[str] = field(default_factory=list)
    unsupported: tuple[str, ...] = ()
    text: str = ""
    rewritten: str | None = None


class ConfigChanged(AdminError):
    """The file on disk is not what the server last read or wrote."""


def _is_command(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def read_config_text(path: str) -> str:
    """The text of the config file; :class:`ConfigError` if it cannot be read."""
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, None, f"cannot read: {exc}") from None


def load_config(path: str, tree: AdminTree | None = None, now: float | None = None) -> LoadedConfig:
    """Load *path*; raise :class:`ConfigError` on the first bad line.

    *now* (unix time from the reactor; default: the tree's clock) dates bans
    given with a duration; bans already expired at *now* are dropped.
    """
    return parse_config(read_config_text(path), path, tree, now)


def parse_config(text: str, path: str, tree: AdminTree | None = None, now: float | None = None) -> LoadedConfig:
    """Run the lines of *text* (the file *path*) as :func:`load_config` does."""
    tree = tree or build_tree()
    settings = Settings(config_dir=os.path.dirname(os.path.abspath(path)))
    needs_rewrite = False
    warnings: list[str] = []
    unsupported: list[str] = []
    lines = file_lines(text)
    for lineno, line in enumerate(lines, 1):
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
            lines[lineno - 1] = _replace_words(line, result.rewritten)
    if now is None:
        now = tree.context.now()
    if now is not None:
        settings = settings.without_expired(now)
    warnings.extend(f"{path}: {problem}" for problem in settings.problems())
    rewritten = "".join(lines) if needs_rewrite else None
    return LoadedConfig(settings, path, needs_rewrite, warnings, tuple(unsupported), text, rewritten)


def _replace_words(line: str, spans: tuple[tuple[int, int, str], ...]) -> str:
    """``line`` with the words of each (first, end, text) span replaced; the rest kept as it is."""
    words = list(re.finditer(r"\S+", line))
    for first, end, text in sorted(spans, reverse=True):
        line = line[:words[first].start()] + text + line[words[end - 1].end():]
    return line


def render_config(settings: Settings, tree: AdminTree | None = None, now: float | None = None) -> str:
    """A new config file for *settings*: a comment header and the canonical lines."""
    tree = tree or build_tree()
    return "\n".join([*HEADER, "", *tree.write(settings, now)]) + "\n"


class ConfigFile:
    """The config file of a running server: the text last read or written, and edits to it.

    Not thread-safe by itself: the server runs loads and saves one at a
    time (under its admin lock), off the reactor thread.
    """

    def __init__(self, path: str, tree: AdminTree, text: str | None = None) -> None:
        self.path = path
        self.tree = tree
        #: The file as last read or written (None: not read yet; the first
        #: save takes the file on disk as it finds it).
        self.text = text
        #: The text edits start from: :attr:`text`, or that text with the
        #: rewrite a load asked for when it could not be written yet.
        self.base = text

    @classmethod
    def from_loaded(cls, loaded: LoadedConfig, tree: AdminTree) -> "ConfigFile":
        """The file ``loaded`` was read from, as it was read."""
        cf = cls(loaded.path, tree, loaded.text)
        cf.base = loaded.rewritten if loaded.rewritten is not None else loaded.text
        return cf

    def load(self, now: float | None = None) -> LoadedConfig:
        """Read the file again (REHASH); it is then the text edits start from."""
        loaded = load_config(self.path, self.tree, now)
        self.text = loaded.text
        self.base = loaded.rewritten if loaded.rewritten is not None else loaded.text
        return loaded

    def rewrite(self) -> list[str]:
        """Write the rewrite the last load asked for (hashed passwords, ban expiry times).

        Returns notes for the log; raises OSError if the file cannot be
        written, :class:`ConfigChanged` if it was edited meanwhile.
        """
        if self.base == self.text or self.base is None:
            return []
        mode = self._check_unchanged()
        return self._write(self.base, mode)

    def save(self, old: Settings, new: Settings, now: float | None = None) -> list[str]:
        """Edit the file in place from *old* (the settings in force) to *new*.

        Only the lines of what changed are replaced, inserted or deleted.
        Raises :class:`ConfigChanged` if the file on disk is not the text
        last read or written, :class:`~conferenceroom.admin.editor.EditError`
        if no in-place edit gives *new*, OSError if it cannot be written;
        the file is then untouched.  Returns notes for the log.
        """
        mode = self._check_unchanged()
        assert self.base is not None
        check = self.tree.with_context(hash_password=lambda plain: plain)

        def reload(text: str) -> Settings:
            try:
                return parse_config(text, self.path, check, now).settings
            except ConfigError as exc:  # an edit that does not load: the editor tries another
                raise AdminError(str(exc)) from None

        text = edit(self.tree, self.base, old, new, now, reload)
        if text == self.text:
            return []
        return self._write(text, mode)

    def _check_unchanged(self) -> int:
        """The file's mode; :class:`ConfigChanged` unless it holds :attr:`text`."""
        with open(self.path, encoding="utf-8", errors="surrogateescape", newline="") as fh:
            on_disk = fh.read()
            mode = os.fstat(fh.fileno()).st_mode & 0o7777
        if self.text is None:
            self.text = self.base = on_disk
        elif on_disk != self.text:
            raise ConfigChanged(f"{self.path} was changed on disk since the server last read it: "
                                "REHASH first to load those edits, then try again. Nothing was changed")
        return mode

    def _write(self, text: str, mode: int) -> list[str]:
        write_atomically(self.path, text.encode("utf-8"), 0o600)
        self.text = self.base = text
        if mode & 0o077:
            return [f"{self.path} was mode {mode & 0o777:04o}; now 0600: it holds password hashes and "
                    "link passwords"]
        return []


def save_config(settings: Settings, path: str, tree: AdminTree | None = None, now: float | None = None) -> list[str]:
    """Make the file *path* say *settings*, for tools and tests without a running server.

    A new file gets :func:`render_config`; an existing one is read and
    edited in place (:meth:`ConfigFile.save`), keeping every line that
    does not change.  The file ends up with mode 0600.
    """
    tree = tree or build_tree()
    if not os.path.exists(path):
        write_atomically(path, render_config(settings, tree, now).encode("utf-8"), 0o600)
        return []
    cf = ConfigFile(path, tree)
    loaded = cf.load(now)
    return cf.save(loaded.settings, settings, now)
