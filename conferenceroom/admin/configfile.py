# -*- test-case-name: tests.unit.test_admin_configfile -*-
"""The config file: AS commands without the ``/as``, one per line.

Loading runs every line through the same :class:`AdminTree` operators use
live, starting from default settings; the first bad line stops the load with
``file:line: reason``.  Saving writes the canonical lines atomically.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field

from conferenceroom.admin.settings import Settings
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

    ``needs_rewrite`` is True when a plain-text password was hashed: the
    caller should :func:`save_config` so the file holds only the hash.
    """

    settings: Settings
    path: str
    needs_rewrite: bool = False
    warnings: list[str] = field(default_factory=list)


def load_config(path: str, tree: AdminTree | None = None) -> LoadedConfig:
    """Load *path*; raise :class:`ConfigError` on the first bad line."""
    tree = tree or build_tree()
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, None, f"cannot read: {exc}") from None
    settings = Settings(config_dir=os.path.dirname(os.path.abspath(path)))
    needs_rewrite = False
    warnings: list[str] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        try:
            result = tree.execute(settings, words)
        except AdminError as exc:
            raise ConfigError(path, lineno, str(exc)) from None
        settings = result.settings
        if result.rewrite:
            needs_rewrite = True
            warnings.append(f"{path}:{lineno}: plain-text password hashed; the file must be rewritten with the hash")
    warnings.extend(f"{path}: {problem}" for problem in settings.problems())
    return LoadedConfig(settings, path, needs_rewrite, warnings)


def render_config(settings: Settings, tree: AdminTree | None = None) -> str:
    """The full text :func:`save_config` writes."""
    tree = tree or build_tree()
    return "\n".join([*HEADER, "", *tree.write(settings)]) + "\n"


def save_config(settings: Settings, path: str, tree: AdminTree | None = None) -> None:
    """Write *settings* to *path* atomically (temp file, fsync, rename, fsync dir).

    The file keeps the mode of the file it replaces (0600 for a new file),
    since it holds password hashes.
    """
    text = render_config(settings, tree)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o600
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)


def _fsync_dir(directory: str) -> None:
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)

