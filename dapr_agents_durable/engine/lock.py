"""One engine per database file: an exclusive lock held for the engine's lifetime."""

from __future__ import annotations

import fcntl
import os

from dapr_agents_durable.engine.store import create_owner_only


class EngineAlreadyRunning(RuntimeError):
    """Another engine process already serves this database file."""


class DatabaseLock:
    """An ``flock`` on ``<db>.lock``; the kernel drops it when the process dies (even kill -9).

    The file holds the engine's pid, then (once it listens) its address, so that
    tools can reach the engine an app started on that database (:func:`engine_address`).

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
        create_owner_only(self.path)
        fd = os.open(self.path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 256).decode(errors="replace").split(" ")[0].strip() or "unknown"
            os.close(fd)
            raise EngineAlreadyRunning(
                f"the database {self.path[:-5]!r} is in use by another engine (pid {holder}); "
                "stop it, or give this engine another --db file"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def advertise(self, address: str) -> None:
        """Record the address the engine serves, beside its pid."""
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, f"{os.getpid()} {address}".encode(), 0)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def engine_address(db_path: str) -> str | None:
    """The address of the live engine serving ``db_path`` from another process, if there is one.

    Example::

        engine_address(".dapr-agents-durable/engine.db")   # "127.0.0.1:40213" while an app runs
    """
    path = os.path.abspath(db_path) + ".lock"
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            fields = os.read(fd, 256).decode(errors="replace").split()
            return fields[1] if len(fields) == 2 else None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None  # nobody holds it: no engine is running on this database
    finally:
        os.close(fd)
