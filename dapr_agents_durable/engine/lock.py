"""One engine per database file: an exclusive lock held for the engine's lifetime."""

from __future__ import annotations

import fcntl
import os


class EngineAlreadyRunning(RuntimeError):
    """Another engine process already serves this database file."""


class DatabaseLock:
    """An ``flock`` on ``<db>.lock``; the kernel drops it when the process dies (even kill -9).

    Example::

        lock = DatabaseLock("/tmp/engine.db")
        lock.acquire()
        ...
        lock.release()
    """

    def __init__(self, db_path: str) -> None:
        self.path = os.path.abspath(db_path) + ".lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise EngineAlreadyRunning(
                f"the database {self.path[:-5]!r} is in use by another engine (pid {holder}); "
                "stop it, or give this engine another --db file"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
