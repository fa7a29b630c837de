"""What surrounds every schema change (migrations/env.py runs its migrations inside ``guarded()``):

    with guarded(connection, changes_schema=True, keep_backups=5) as check:
        with context.begin_transaction():
            context.run_migrations()
            check()

On SQLite, before anything changes: a copy of the database file in ``backups/`` beside it (the newest
``keep_backups`` kept), and foreign keys off for the migration's connection. SQLite cannot alter a
column in place: Alembic's batch mode copies the table, drops the old one and renames the copy, and
with foreign keys on, that DROP runs every ON DELETE CASCADE into the child tables (the upgrade of
2026-11-30 deleted every message that way). Alembic's documentation gives this remedy. Afterwards
``PRAGMA foreign_key_check`` must find nothing pointing nowhere, or the upgrade fails, naming the
backup to restore. PostgreSQL alters tables in place, inside the migration's transaction: nothing
to add there but the same check of every foreign key."""
import logging
import os
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

log = logging.getLogger("alembic.env")
BACKUP_DIRECTORY = "backups"


class DanglingRows(RuntimeError):
    """Rows point at rows that do not exist (Flask-Migrate reports a RuntimeError and exits 1)."""


def sqlite_file(connection: Connection) -> str | None:
    """The database file of a SQLite connection; None for another database or an in-memory one."""
    if connection.dialect.name != "sqlite":
        return None
    path = connection.engine.url.database
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return os.path.abspath(path)


@contextmanager
def guarded(connection: Connection, *, changes_schema: bool, keep_backups: int):
    """Around a migration run (see the module's docstring); yields the check to call once the
    migrations ran, inside their transaction (on PostgreSQL a failed check rolls all of it back).
    ``changes_schema``: the command moves the database to another revision (upgrade, downgrade,
    stamp); ``keep_backups``: how many copies to keep, 0 to take none."""
    path = sqlite_file(connection)
    backup = None
    if path is not None and changes_schema and keep_backups > 0 and _holds_schema(connection):
        backup = back_up(connection, path, keep_backups)
        log.info("Backed up %s to %s before changing its schema (to roll back: stop the service, "
                 "copy it back over the database file).", path, backup)

    def check() -> None:
        if changes_schema:
            check_foreign_keys(connection, backup)

    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        connection.rollback()  # PRAGMA foreign_keys is ignored inside a transaction
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    connection.rollback()  # Alembic must find no transaction begun: it commits only its own
    try:
        yield check
    finally:
        if sqlite:
            connection.rollback()
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.rollback()


def _holds_schema(connection: Connection) -> bool:
    """A database that has been migrated before: a fresh one has nothing to lose."""
    return inspect(connection).has_table("alembic_version")


def back_up(connection: Connection, path: str, keep: int) -> str:
    """A consistent copy of the SQLite database (SQLite's online backup, safe while workers write),
    in backups/ beside it, readable by the service's user only; older copies beyond ``keep`` removed."""
    directory = os.path.join(os.path.dirname(path), BACKUP_DIRECTORY)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    revision = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() or "base"
    connection.rollback()
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    name, extension = os.path.splitext(os.path.basename(path))
    target = os.path.join(directory, f"{name}-{stamp}-{revision}{extension or '.sqlite3'}")
    os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600))
    source = connection.connection.driver_connection
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        copy.close()
    _prune(directory, f"{name}-", keep)
    return target


def _prune(directory: str, prefix: str, keep: int) -> None:
    copies = sorted(entry for entry in os.listdir(directory) if entry.startswith(prefix))
    for old in copies[:-keep]:
        os.unlink(os.path.join(directory, old))


def dangling_rows(connection: Connection) -> list[str]:
    """'<table>.<column> -> <table>: N row(s)' for every foreign key with rows pointing nowhere."""
    found = []
    inspector = inspect(connection)
    for table in inspector.get_table_names():
        for key in inspector.get_foreign_keys(table):
            columns, referred = key["constrained_columns"], key["referred_columns"]
            joined = " AND ".join(f"p.{r} = c.{c}" for c, r in zip(columns, referred))
            present = " AND ".join(f"c.{c} IS NOT NULL" for c in columns)
            count = connection.execute(text(
                f"SELECT count(*) FROM {table} c WHERE {present} AND NOT EXISTS "
                f"(SELECT 1 FROM {key['referred_table']} p WHERE {joined})")).scalar()
            if count:
                found.append(f"{table}.{', '.join(columns)} -> {key['referred_table']}: {count} row(s)")
    return found


def check_foreign_keys(connection: Connection, backup: str | None) -> None:
    problems = dangling_rows(connection)
    if problems:
        restore = f" Restore the copy taken before it: {backup}." if backup else ""
        raise DanglingRows("The schema change left rows pointing at rows that do not exist: "
                           + "; ".join(problems) + "." + restore)


def threads_without_history(connection: Connection, limit: int = 100) -> list[str]:
    """Threads that were written to after they were created (a turn, a message) but hold no message:
    the mark the upgrade of 2026-11-30 left on SQLite, where it deleted every message. Oldest first.
    (A new thread's last_active_at is set before its created_at: a turn's record is what moves it past.)"""
    rows = connection.execute(text(
        "SELECT t.id, t.created_at, t.last_active_at FROM threads t "
        "WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.thread_id = t.id) ORDER BY t.created_at"))
    lost = []
    for thread_id, created_at, last_active_at in rows:
        if _seconds_between(created_at, last_active_at) > 0:
            lost.append(thread_id)
            if len(lost) == limit:
                break
    return lost


def _seconds_between(earlier, later) -> float:
    """SQLite hands back timestamps as text, PostgreSQL as datetimes."""
    if isinstance(earlier, str):
        earlier, later = (datetime.fromisoformat(value) for value in (earlier, later))
    earlier, later = (value.replace(tzinfo=None) for value in (earlier, later))
    return (later - earlier).total_seconds()


def integrity_problems(connection: Connection) -> list[str]:
    """SQLite's own check of its file (pages, indexes); nothing to check this way on PostgreSQL."""
    if connection.dialect.name != "sqlite":
        return []
    found = [row[0] for row in connection.exec_driver_sql("PRAGMA integrity_check")]
    return [] if found == ["ok"] else found
