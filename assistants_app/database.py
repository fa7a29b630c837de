"""The SQLAlchemy handle every model and query uses; its own module so that models and the
extensions that read them (API keys) import it without importing each other."""
import time

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event, exc
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import Pool

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


# A pooled connection that sat idle for this long is pinged before it is used again (a database
# restart, failover or idle timeout drops connections while they wait). SQLAlchemy's pool_pre_ping
# pings on every checkout instead, though under load a connection is back in the pool within
# milliseconds: a round trip and ~0.1 ms of CPU a checkout, two checkouts per chat turn.
PING_AFTER_IDLE_SECONDS = 1.0


@event.listens_for(Pool, "checkin")
def _note_idle_since(dbapi_connection, record) -> None:
    record.info["idle_since"] = time.monotonic()


@event.listens_for(Pool, "checkout")
def _ping_if_idle(dbapi_connection, record, proxy) -> None:
    idle_since = record.info.get("idle_since")  # None: connected just now
    if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
        return
    if type(dbapi_connection).__module__ == "sqlite3":  # a file: nothing to drop it
        return
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
    except Exception as err:  # whatever the driver raises, the connection is unusable: the pool
        raise exc.DisconnectionError("dropped while idle") from err  # replaces it and checks out again
