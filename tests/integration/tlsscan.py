"""sslyze, run from its own virtualenv beside the project's.

sslyze 6 pins ``cryptography<47`` while pyOpenSSL 26 and service-identity 26
need a newer one, so it cannot share the server's venv: the first scan
builds ``.venv-sslyze`` (once; about 20 s) with ``python -m venv`` and pip,
and every scan runs its command line there with ``--json_out``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SSLYZE = "sslyze==6.3.1"
VENV = Path(__file__).resolve().parents[2] / ".venv-sslyze"
INSTALL_TIMEOUT = 600
SCAN_TIMEOUT = 180


def sslyze_python() -> Path:
    """The interpreter of a venv that has sslyze, built on first use."""
    python = VENV / "bin" / "python"
    if python.exists() and subprocess.run([str(python), "-c", "import sslyze"],
                                          capture_output=True).returncode == 0:
        return python
    for step in ([sys.executable, "-m", "venv", str(VENV)],
                 [str(python), "-m", "pip", "install", "-q", SSLYZE]):
        proc = subprocess.run(step, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
        assert proc.returncode == 0, f"{' '.join(step)} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    return python


def scan(host: str, port: int, out: Path) -> dict:
    """sslyze's scan result for ``host:port``: protocol versions, compression, renegotiation."""
    command = [str(sslyze_python()), "-m", "sslyze", "--sslv2", "--sslv3", "--tlsv1", "--tlsv1_1",
               "--tlsv1_2", "--tlsv1_3", "--compression", "--reneg", f"--json_out={out}", f"{host}:{port}"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=SCAN_TIMEOUT)
    assert proc.returncode == 0 and out.exists(), f"sslyze failed:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}"
    report = json.loads(out.read_text())
    [server] = report["server_scan_results"]
    assert server["scan_status"] == "COMPLETED", server
    return server["scan_result"]


def accepted(result: dict, version: str) -> list[str]:
    """OpenSSL names of the suites the server accepted for ``version`` (e.g. ``tls_1_2``)."""
    part = result[f"{version}_cipher_suites"]
    assert part["status"] == "COMPLETED", part
    return [s["cipher_suite"]["openssl_name"] for s in part["result"]["accepted_cipher_suites"]]
