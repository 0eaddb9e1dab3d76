"""One pipeline run at a time, without Redis: a PostgreSQL advisory lock, or a file lock.

The advisory lock belongs to the database session, so it is released when the worker dies;
the file lock (for SQLite, the embedded default) is released by the OS when the process ends.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connection


def _lock_id(name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"goodsassoc:{name}".encode()).digest()[:8], "big", signed=True)


@contextmanager
def exclusive(name: str) -> Iterator[bool]:
    """Yields True if this process holds the lock ``name``, False if another one does."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [_lock_id(name)])
            held = bool(cursor.fetchone()[0])
        try:
            yield held
        finally:
            if held:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [_lock_id(name)])
        return
    database = str(connection.settings_dict.get("NAME", "default"))
    path = Path(tempfile.gettempdir()) / f"goodsassoc-{hashlib.sha256(database.encode()).hexdigest()[:16]}-{name}.lock"
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held = True
        except BlockingIOError:
            held = False
        try:
            yield held
        finally:
            if held:
                fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        os.close(handle)
