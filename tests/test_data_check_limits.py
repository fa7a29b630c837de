"""`flask data check` past its report's limit, and where the SQLite backups of an upgrade can be taken
(a database file: yes; an in-memory database: there is no file to copy)."""
import os
from datetime import datetime

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from assistants_app.extensions import db
from assistants_app.upgrades import sqlite_file

from .helpers import created


def test_data_check_names_at_most_100_emptied_threads(app, client, auth):
    ids = [created(client.post("/v1/threads", json={}, headers=auth))["id"] for _ in range(101)]
    with app.app_context():
        db.session.execute(text("UPDATE threads SET last_active_at = :later"),
                           {"later": datetime(2100, 1, 1)})  # used after they were created: emptied
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["data", "check"])
    assert result.exit_code == 1
    assert "100 thread(s) were used but hold no message" in result.output
    named = [thread_id for thread_id in ids if thread_id in result.output]
    assert len(named) == 100  # the oldest, by the limit of the report


def test_only_a_sqlite_file_can_be_backed_up(tmp_path):
    for url in ("sqlite://", "sqlite:///:memory:", "sqlite:///file:memdb?mode=memory&uri=true"):
        with create_engine(url, poolclass=NullPool).connect() as connection:
            assert sqlite_file(connection) is None, url
    with create_engine(f"sqlite:///{tmp_path}/data.sqlite3", poolclass=NullPool).connect() as connection:
        assert sqlite_file(connection) == os.path.join(str(tmp_path), "data.sqlite3")
