"""Debian packages a test needs (irssi, tmux, OpenSSH), installed on demand.

CI machines may be new: a missing program is installed with apt-get (after
``apt-get update`` when the first attempt fails); the test is skipped, with
apt's own words, only when that is impossible.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

APT_TIMEOUT = 600


def apt_install(package: str) -> tuple[bool, str]:
    """Install a Debian package; on failure run apt-get update and retry."""
    if shutil.which("apt-get") is None:
        return False, "apt-get is not available"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "--no-install-recommends", package]
    output = ""
    for step in (install, ["apt-get", "update"], install):
        try:
            proc = subprocess.run(step, env=env, capture_output=True, text=True,
                                  timeout=APT_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as e:
            return False, f"{' '.join(step)}: {e}"
        output = proc.stdout[-2000:] + proc.stderr[-2000:]
        if step is install and proc.returncode == 0:
            return True, output
    return False, output


def require(binary: str, package: str) -> str:
    """Path of ``binary``, installing ``package`` if needed; skip the test if impossible."""
    path = shutil.which(binary)
    if path:
        return path
    ok, output = apt_install(package)
    path = shutil.which(binary)
    if not ok or not path:
        pytest.skip(f"{binary} is not installed and `apt-get install {package}` "
                    f"failed: {output.strip()[-500:]}")
    return path
