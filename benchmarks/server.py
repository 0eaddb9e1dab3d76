"""A gunicorn server for load benchmarks, on a free localhost port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(workers: int, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, int]:
    """gunicorn serving benchmarks.wsgi (the demo shop plus a trivial endpoint); returns it and its port."""
    port = free_port()
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "benchmarks.settings", "PYTHONPATH": str(ROOT),
                   **(env or {})}
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "benchmarks.wsgi:application", "--bind",
                               f"127.0.0.1:{port}", "--workers", str(workers), "--log-level", "warning"],
                              cwd=ROOT, env=environment)
    for _ in range(150):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server, port
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("gunicorn did not start")
