"""The SQLAlchemy handle every model and query uses; its own module so that models and the
extensions that read them (API keys) import it without importing each other."""
import functools
import logging
import time

from flask import current_app
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event, exc
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names, so Alembic migrations read the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
log = logging.getLogger(__name__)


# A pooled connection that sat idle for this long is pinged before it is used again (a database
# restart, failover or idle timeout drops connections while they wait). SQLAlchemy's pool_pre_ping
# pings on every checkout instead, though under load a connection is back in the pool within
# milliseconds: a round trip and ~0.1 ms of CPU a checkout, two checkouts per chat turn.
PING_AFTER_IDLE_SECONDS = 1.0


def init_engine(app) -> None:
    """The app's engine's listeners (create_app registers them; nothing is registered for every Engine
    of the process): SQLite's pragmas on each new connection, and the idle-connection ping."""
    with app.app_context():
        engine = db.engine
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "checkin", _note_idle_since)
    event.listen(engine, "checkout", _ping_if_idle)


def _sqlite_pragmas(dbapi_connection, connection_record):
    # SQLite: enforce foreign keys (cascades) and let several gunicorn workers write.
    if type(dbapi_connection).__module__ == "sqlite3":
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def _note_idle_since(dbapi_connection, record) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection, record, proxy) -> None:
    idle_since = record.info.get("idle_since")  # None: connected just now
    if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
        return
    if type(dbapi_connection).__module__ == "sqlite3":  # a file: nothing to drop it
        return
    try:
        # In autocommit, as SQLAlchemy's own ping: a SELECT would open a transaction, and a view
        # that reads in autocommit (reads_only) cannot switch to it inside one.
        autocommit = getattr(dbapi_connection, "autocommit", True)
        dbapi_connection.autocommit = True
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
        finally:
            dbapi_connection.autocommit = autocommit
    except Exception as err:  # whatever the driver raises, the connection is unusable: the pool
        raise exc.DisconnectionError("dropped while idle") from err  # replaces it and checks out again


def execute_core(statement, parameters=None):
    """Run a Core statement (built on tables, not mapped classes) on the session's connection, in its
    transaction. Session.execute() would take it through the ORM's execution path, which a Core
    statement does not use (no entities to load, nothing autoflushed for it): ~25 us a statement more
    on SQLite (session.execute 40 us, connection.execute 14 us, an UPDATE by id), on every turn's lock,
    history read and record."""
    return db.session.connection().execute(statement, parameters)


def on_postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


def autocommit_if_fresh() -> bool:
    """On PostgreSQL, when the request's session has not begun: take its connection in autocommit,
    so that each statement is a transaction of its own -- psycopg sends no BEGIN before it and no
    COMMIT or ROLLBACK after (a round trip each). True when it did. Only for work whose statements
    each stand alone; SQLAlchemy resets the connection's isolation level when it goes back to the pool.
    Objects added and not yet flushed would be flushed in it, statement by statement: then not."""
    session = db.session()
    if not on_postgresql() or session.in_transaction() or session.new or session.dirty or session.deleted:
        return False
    db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    return True


def reads_only(view):
    """For a view that writes nothing. On PostgreSQL its statements run in autocommit (one round trip
    for a one-SELECT GET, not three). Under READ COMMITTED, PostgreSQL's default, each statement of a
    transaction reads its own snapshot too: the view reads what it read before. A session that already
    began (the API key looked up on a cache miss) is left as it is."""
    return _in_autocommit(view)


def each_statement_commits(view):
    """For a view whose statements each stand alone until the provider is called (which gives the
    connection back): a chat turn reads, takes its thread's lock with one UPDATE (a turn that fails gives
    it back with another), and records in a transaction of its own. On PostgreSQL they run in autocommit,
    as reads_only()'s do: two round trips fewer (BEGIN, COMMIT)."""
    return _in_autocommit(view)


def _in_autocommit(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        autocommit_if_fresh()
        return view(*args, **kwargs)
    return wrapper


def assert_released(where: str) -> None:
    """No transaction may be open (and so no pooled connection held) while a stream waits on a client
    or on a provider: a client that stops reading would hold it as long as it likes, and a few dozen such
    clients would take the pool from every tenant. What an event needs is read before, into plain values.
    A transaction found open is a bug: tests fail on it; a deployment logs it and gives the connection
    back."""
    session = db.session()
    if not session.in_transaction():
        return
    if current_app.testing:
        raise RuntimeError(f"a database transaction is open {where}")
    log.error("a database transaction was open %s: rolled back", where)
    session.rollback()
