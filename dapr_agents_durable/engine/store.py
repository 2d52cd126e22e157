"""SQLite persistence of the engine: instances, history, inbox, activity tasks.

The store only reads and writes rows; the rules of a workflow turn live in
``turns.py`` and the in-memory dispatch state in ``dispatcher.py``. Events are
kept as serialized ``HistoryEvent`` bytes, exactly as they go on the wire.
One engine process owns a database file at a time (see ``lock.py``).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS instances (
  instance_id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  status INTEGER NOT NULL,
  execution_id TEXT NOT NULL,
  generation INTEGER NOT NULL,
  created_at REAL NOT NULL,
  last_updated_at REAL NOT NULL,
  started_at REAL,
  completed_at REAL,
  scheduled_start REAL,
  input TEXT,
  output TEXT,
  custom_status TEXT,
  failure_details BLOB,
  parent_instance_id TEXT,
  parent_execution_id TEXT,
  parent_task_id INTEGER,
  parent_name TEXT,
  start_router BLOB,
  incoming_history BLOB,
  patches TEXT NOT NULL DEFAULT '[]',
  version_name TEXT,
  history_len INTEGER NOT NULL DEFAULT 0,
  history_bytes INTEGER NOT NULL DEFAULT 0,
  suspended INTEGER NOT NULL DEFAULT 0,
  stall BLOB
);
CREATE TABLE IF NOT EXISTS history (
  instance_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  event BLOB NOT NULL,
  PRIMARY KEY (instance_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS inbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  instance_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  event BLOB NOT NULL,
  visible_at REAL
);
CREATE INDEX IF NOT EXISTS ix_inbox_instance ON inbox (instance_id, id);
CREATE TABLE IF NOT EXISTS activities (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  instance_id TEXT NOT NULL,
  execution_id TEXT NOT NULL,
  task_id INTEGER NOT NULL,
  request BLOB NOT NULL,
  UNIQUE (instance_id, execution_id, task_id)
);
CREATE TABLE IF NOT EXISTS children (
  parent_instance_id TEXT NOT NULL,
  child_instance_id TEXT NOT NULL,
  PRIMARY KEY (parent_instance_id, child_instance_id)
) WITHOUT ROWID;
"""


@dataclass
class InstanceRow:
    """One workflow instance as stored (its current generation)."""

    instance_id: str
    name: str
    status: int
    execution_id: str
    generation: int
    created_at: float
    last_updated_at: float
    started_at: float | None = None
    completed_at: float | None = None
    scheduled_start: float | None = None
    input: str | None = None
    output: str | None = None
    custom_status: str | None = None
    failure_details: bytes | None = None
    parent_instance_id: str | None = None
    parent_execution_id: str | None = None
    parent_task_id: int | None = None
    parent_name: str | None = None
    start_router: bytes | None = None
    incoming_history: bytes | None = None
    patches: list[str] = field(default_factory=list)
    version_name: str | None = None
    history_len: int = 0
    history_bytes: int = 0
    suspended: bool = False
    stall: bytes | None = None

    _COLUMNS = (
        "instance_id", "name", "status", "execution_id", "generation", "created_at",
        "last_updated_at", "started_at", "completed_at", "scheduled_start", "input", "output",
        "custom_status", "failure_details", "parent_instance_id", "parent_execution_id",
        "parent_task_id", "parent_name", "start_router", "incoming_history", "patches",
        "version_name", "history_len", "history_bytes", "suspended", "stall",
    )

    @classmethod
    def from_row(cls, row: tuple) -> "InstanceRow":
        values = dict(zip(cls._COLUMNS, row))
        values["patches"] = json.loads(values["patches"])
        values["suspended"] = bool(values["suspended"])
        return cls(**values)

    def to_row(self) -> tuple:
        values = [getattr(self, c) for c in self._COLUMNS]
        values[self._COLUMNS.index("patches")] = json.dumps(self.patches)
        values[self._COLUMNS.index("suspended")] = int(self.suspended)
        return tuple(values)


@dataclass(frozen=True)
class InboxRow:
    """An event waiting to be delivered to an instance's next turn."""

    id: int
    instance_id: str
    kind: str
    event: bytes
    visible_at: float | None


@dataclass(frozen=True)
class ActivityRow:
    """An activity task waiting for (or running on) a worker."""

    id: int
    instance_id: str
    execution_id: str
    task_id: int
    request: bytes


def create_owner_only(path: str) -> None:
    """Create ``path`` empty with mode 0600, whatever the umask, unless it exists.

    SQLite gives the database's ``-wal`` and ``-shm`` files the database file's mode.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


class DatabaseError(RuntimeError):
    """The database file cannot be used (wrong format, newer schema, not writable)."""


class Store:
    """All SQLite access of one engine. Callers serialize access with their own lock.

    Example::

        store = Store("/tmp/engine.db")
        with store.transaction():
            store.insert_instance(row)
    """

    def __init__(self, path: str, *, synchronous_full: bool = False) -> None:
        self.path = path
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        try:
            create_owner_only(path)
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={'FULL' if synchronous_full else 'NORMAL'}")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(_SCHEMA)
            self._check_schema()
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(
                f"cannot use {path!r} as an engine database: {exc}. "
                "Point --db at a new file or at one this engine created."
            ) from exc
        self._in_tx = False

    def _check_schema(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            self._db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif int(row[0]) > SCHEMA_VERSION:
            raise DatabaseError(
                f"database schema version {row[0]} is newer than this engine's ({SCHEMA_VERSION}); "
                "upgrade dapr-agents-durable"
            )

    def close(self) -> None:
        self._db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction (``BEGIN IMMEDIATE``); nested calls join the outer one."""
        if self._in_tx:
            yield
            return
        for attempt in range(50):
            try:
                self._db.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError:
                if attempt == 49:
                    raise
                time.sleep(0.02)
        self._in_tx = True
        try:
            yield
        except BaseException:
            self._in_tx = False
            if self._db.in_transaction:  # SQLITE_FULL and I/O errors may have rolled it back already
                self._db.execute("ROLLBACK")
            raise
        self._in_tx = False
        self._db.execute("COMMIT")

    # -- instances ---------------------------------------------------------------------

    def get_instance(self, instance_id: str) -> InstanceRow | None:
        row = self._db.execute(
            f"SELECT {', '.join(InstanceRow._COLUMNS)} FROM instances WHERE instance_id=?",
            (instance_id,),
        ).fetchone()
        return InstanceRow.from_row(row) if row else None

    def put_instance(self, inst: InstanceRow) -> None:
        cols = InstanceRow._COLUMNS
        self._db.execute(
            f"INSERT OR REPLACE INTO instances ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            inst.to_row(),
        )

    def list_instance_ids(self, after: str, limit: int) -> list[str]:
        rows = self._db.execute(
            "SELECT instance_id FROM instances WHERE instance_id > ? ORDER BY instance_id LIMIT ?",
            (after, limit),
        ).fetchall()
        return [r[0] for r in rows]

    def instances_with_status(self, status: int) -> list[str]:
        rows = self._db.execute("SELECT instance_id FROM instances WHERE status=?", (status,)).fetchall()
        return [r[0] for r in rows]

    def delete_instance(self, instance_id: str) -> None:
        """Remove an instance and everything it owns."""
        self.wipe_instance_state(instance_id)
        self._db.execute("DELETE FROM instances WHERE instance_id=?", (instance_id,))

    def wipe_instance_state(self, instance_id: str) -> None:
        """Drop history, inbox, activity tasks and child links (keeps the instance row)."""
        for table, column in (
            ("history", "instance_id"),
            ("inbox", "instance_id"),
            ("activities", "instance_id"),
            ("children", "parent_instance_id"),
        ):
            self._db.execute(f"DELETE FROM {table} WHERE {column}=?", (instance_id,))

    # -- history -----------------------------------------------------------------------

    def history(self, instance_id: str) -> list[bytes]:
        rows = self._db.execute(
            "SELECT event FROM history WHERE instance_id=? ORDER BY seq", (instance_id,)
        ).fetchall()
        return [r[0] for r in rows]

    def append_history(self, instance_id: str, start_seq: int, events: list[bytes]) -> None:
        self._db.executemany(
            "INSERT INTO history (instance_id, seq, event) VALUES (?, ?, ?)",
            [(instance_id, start_seq + i, e) for i, e in enumerate(events)],
        )

    # -- inbox -------------------------------------------------------------------------

    def add_inbox(self, instance_id: str, kind: str, event: bytes, visible_at: float | None = None) -> int:
        cur = self._db.execute(
            "INSERT INTO inbox (instance_id, kind, event, visible_at) VALUES (?, ?, ?, ?)",
            (instance_id, kind, event, visible_at),
        )
        return int(cur.lastrowid or 0)

    def visible_inbox(self, instance_id: str, now: float) -> list[InboxRow]:
        rows = self._db.execute(
            "SELECT id, instance_id, kind, event, visible_at FROM inbox "
            "WHERE instance_id=? AND (visible_at IS NULL OR visible_at<=?) ORDER BY id",
            (instance_id, now),
        ).fetchall()
        return [InboxRow(*r) for r in rows]

    def inbox(self, instance_id: str) -> list[InboxRow]:
        rows = self._db.execute(
            "SELECT id, instance_id, kind, event, visible_at FROM inbox WHERE instance_id=? ORDER BY id",
            (instance_id,),
        ).fetchall()
        return [InboxRow(*r) for r in rows]

    def make_visible(self, instance_id: str, kind: str) -> None:
        """Make the instance's waiting ``kind`` events deliverable now."""
        self._db.execute(
            "UPDATE inbox SET visible_at=NULL WHERE instance_id=? AND kind=?", (instance_id, kind)
        )

    def delete_inbox_rows(self, ids: list[int]) -> None:
        self._db.executemany("DELETE FROM inbox WHERE id=?", [(i,) for i in ids])

    def delete_inbox(self, instance_id: str) -> None:
        self._db.execute("DELETE FROM inbox WHERE instance_id=?", (instance_id,))

    def pending_work(self, now: float) -> tuple[list[str], list[tuple[float, str]]]:
        """Instances with visible inbox rows, and (due time, instance) of future rows."""
        ready = [
            r[0]
            for r in self._db.execute(
                "SELECT DISTINCT i.instance_id FROM inbox i JOIN instances s USING (instance_id) "
                "WHERE (i.visible_at IS NULL OR i.visible_at<=?) ORDER BY i.id",
                (now,),
            )
        ]
        future = [
            (r[0], r[1])
            for r in self._db.execute(
                "SELECT visible_at, instance_id FROM inbox WHERE visible_at>?", (now,)
            )
        ]
        return ready, future

    # -- activities --------------------------------------------------------------------

    def add_activity(self, instance_id: str, execution_id: str, task_id: int, request: bytes) -> int:
        cur = self._db.execute(
            "INSERT OR IGNORE INTO activities (instance_id, execution_id, task_id, request) VALUES (?, ?, ?, ?)",
            (instance_id, execution_id, task_id, request),
        )
        return int(cur.lastrowid or 0) if cur.rowcount else 0

    def get_activity(self, activity_id: int) -> ActivityRow | None:
        row = self._db.execute(
            "SELECT id, instance_id, execution_id, task_id, request FROM activities WHERE id=?",
            (activity_id,),
        ).fetchone()
        return ActivityRow(*row) if row else None

    def find_activity(self, instance_id: str, task_id: int) -> ActivityRow | None:
        row = self._db.execute(
            "SELECT id, instance_id, execution_id, task_id, request FROM activities "
            "WHERE instance_id=? AND task_id=? ORDER BY id DESC LIMIT 1",
            (instance_id, task_id),
        ).fetchone()
        return ActivityRow(*row) if row else None

    def activity_instances(self) -> list[tuple[int, str]]:
        """(task row id, instance id) of every unresolved activity task."""
        return [(r[0], r[1]) for r in self._db.execute("SELECT id, instance_id FROM activities ORDER BY id")]

    def delete_activity(self, activity_id: int) -> None:
        self._db.execute("DELETE FROM activities WHERE id=?", (activity_id,))

    def delete_activities(self, instance_id: str) -> None:
        self._db.execute("DELETE FROM activities WHERE instance_id=?", (instance_id,))

    # -- children ----------------------------------------------------------------------

    def add_child(self, parent_id: str, child_id: str) -> None:
        self._db.execute("INSERT OR IGNORE INTO children VALUES (?, ?)", (parent_id, child_id))

    def children(self, parent_id: str) -> list[str]:
        rows = self._db.execute(
            "SELECT child_instance_id FROM children WHERE parent_instance_id=?", (parent_id,)
        ).fetchall()
        return [r[0] for r in rows]

