"""Stopping the servers a benchmark started: by their PID only, SIGTERM then SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess


def stop_proc(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM ``proc`` (started by this script), then SIGKILL if it is still there after ``timeout`` s."""
    if proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)
