"""PostgreSQL connections (assistants_app/database.py): the pool pings one only when it sat idle, so
one dropped meanwhile (a restart, an idle timeout) is replaced before a request uses it; views that
write nothing read in autocommit, and the connection goes back to the pool transactional."""
import os
import time

import psycopg
import pytest
from sqlalchemy import event, text

from assistants_app.database import PING_AFTER_IDLE_SECONDS, db

from .helpers import auth_for, make_assistant

DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
pytestmark = pytest.mark.skipif(not DATABASE_URL.startswith("postgresql"),
                                reason="a PostgreSQL server drops connections; a SQLite file does not")


def backend_pid(app) -> int:
    with app.app_context():
        pid = db.session.scalar(text("SELECT pg_backend_pid()"))
        db.session.remove()
    return pid


def one_connection_app(make_app):
    """An app whose pool holds one connection (each request reuses it), a key, and an assistant."""
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0})
    client, headers = app.test_client(), auth_for(app)
    return app, client, headers, make_assistant(client, headers)


def test_a_connection_dropped_while_idle_is_replaced_before_a_request_uses_it(make_app):
    app, client, headers, created = one_connection_app(make_app)
    dropped = backend_pid(app)
    with psycopg.connect(DATABASE_URL.replace("+psycopg", ""), autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [dropped]).fetchone() == (True,)
    time.sleep(PING_AFTER_IDLE_SECONDS + 0.1)

    answer = client.get(f"/assistants/{created['id']}", headers=headers)
    assert answer.status_code == 200 and answer.json["details"]["model"] == "gpt-4"
    assert backend_pid(app) != dropped


def test_views_that_write_nothing_read_in_autocommit_and_writes_stay_in_transactions(make_app):
    app, client, headers, created = one_connection_app(make_app)
    statements = []  # (first word, table, autocommit of the driver's connection)

    def note(conn, cursor, statement, parameters, context, executemany):
        words = statement.split()
        table = words[words.index("FROM") + 1] if "FROM" in words else words[1]
        statements.append((words[0], table, conn.connection.driver_connection.autocommit))

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", note)
    path = f"/assistants/{created['id']}"
    assert client.get(path, headers=headers).status_code == 200
    assert client.get("/credentials", headers=headers).status_code == 200
    update = client.put(path, json={"details": {"model": "gpt-4o"}}, headers=headers)
    assert update.status_code == 200
    assert client.get(path, headers=headers).json["details"]["model"] == "gpt-4o"
    reads = [autocommit for word, table, autocommit in statements if word == "SELECT"]
    writes = [autocommit for word, table, autocommit in statements if word == "UPDATE"]
    assert reads and writes and ("UPDATE", "assistants", False) in statements
    # The GETs' reads in autocommit; the PUT after them, on the same connection, in a transaction.
    assert [a for w, t, a in statements[:2]] == [True, True] and not any(writes)


def test_a_view_that_reads_in_autocommit_gets_a_connection_the_idle_ping_just_used(make_app):
    _, client, headers, created = one_connection_app(make_app)
    time.sleep(PING_AFTER_IDLE_SECONDS + 0.1)  # the next checkout pings first: no transaction left open
    assert client.get(f"/assistants/{created['id']}", headers=headers).status_code == 200
