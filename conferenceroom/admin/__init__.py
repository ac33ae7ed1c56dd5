"""The AS admin command tree, the Settings snapshot and the config file.

Typical use::

    from conferenceroom.admin import build_tree, load_config

    loaded = load_config("etc/conferenceroom.conf")
    tree = build_tree()
    result = tree.execute(loaded.settings, ["general", "set", "name", "x.y"])
"""

from conferenceroom.admin.configfile import (
    ConfigChanged, ConfigError, ConfigFile, LoadedConfig, load_config, save_config,
)
from conferenceroom.admin.editor import EditError
from conferenceroom.admin.settings import BanEntry, FloodSettings, OperEntry, ServerDef, Settings, SSLSettings
from conferenceroom.admin.tree import AdminError, AdminTree, Result, build_tree, changed_lines, redact

__all__ = [
    "AdminError", "AdminTree", "BanEntry", "ConfigChanged", "ConfigError", "ConfigFile", "EditError", "FloodSettings", "LoadedConfig", "OperEntry",
    "Result", "SSLSettings", "ServerDef", "Settings", "build_tree", "changed_lines", "load_config", "redact",
    "save_config",
]
