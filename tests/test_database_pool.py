"""The database pool pings a connection only when it sat idle (assistants_app/database.py): one
dropped meanwhile (a restart, an idle timeout) is replaced before a request uses it."""
import os
import time

import psycopg
import pytest
from sqlalchemy import text

from assistants_app.database import PING_AFTER_IDLE_SECONDS, db

from .helpers import headers_for, make_key

DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
pytestmark = pytest.mark.skipif(not DATABASE_URL.startswith("postgresql"),
                                reason="a PostgreSQL server drops connections; a SQLite file does not")


def backend_pid(app) -> int:
    with app.app_context():
        pid = db.session.scalar(text("SELECT pg_backend_pid()"))
        db.session.remove()
    return pid


def test_a_connection_dropped_while_idle_is_replaced_before_a_request_uses_it(make_app):
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0})  # one connection
    client, headers = app.test_client(), headers_for(make_key(app))
    created = client.post("/assistants", json={"details": {"model": "gpt-4"}}, headers=headers)
    assert created.status_code == 200
    dropped = backend_pid(app)
    with psycopg.connect(DATABASE_URL.replace("+psycopg", ""), autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [dropped]).fetchone() == (True,)
    time.sleep(PING_AFTER_IDLE_SECONDS + 0.1)

    answer = client.get(f"/assistants/{created.json['id']}", headers=headers)
    assert answer.status_code == 200 and answer.json["details"]["model"] == "gpt-4"
    assert backend_pid(app) != dropped
