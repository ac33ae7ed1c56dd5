"""Atomic file writes: the old file or the new one, never half of either."""

import os

import pytest

from conferenceroom.atomicfile import write_atomically


def test_replaces_with_mode_and_leaves_no_temp_file(tmp_path) -> None:
    """The new content replaces the old one with the requested mode; no temp file stays."""
    path = tmp_path / "f.conf"
    path.write_text("old")
    write_atomically(str(path), b"new", 0o600)
    assert path.read_bytes() == b"new"
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert sorted(os.listdir(tmp_path)) == ["f.conf"]


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch) -> None:
    """If the rename fails the old content is intact and the temp file is removed."""
    path = tmp_path / "f.conf"
    path.write_text("old")

    def broken(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError):
        write_atomically(str(path), b"new")
    assert path.read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["f.conf"]
