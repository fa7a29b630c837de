"""Every migration path keeps every row: a database built at each schema revision, holding rows of
every kind that revision stores (tests/migration_rows.py), is upgraded to the head, then downgraded
and upgraded again; each row must still be there, column for column, and readable through the API.
On SQLite (a new file per test) and on PostgreSQL (a new database per test, when the suite runs there)."""
import os
import sqlite3
import subprocess
import sys
import uuid
from datetime import timezone
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import MetaData, create_engine, insert, select, text

from assistants_app.extensions import db
from assistants_app.upgrades import dangling_rows

from . import migration_rows
from .helpers import SECRET_KEYS, app_on, headers_for, scratch_database
from .live_server import ROOT

MIGRATIONS = ROOT / "assistants_app" / "migrations"


def script_revisions() -> list[str]:
    """The migrations' revisions, oldest first."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    scripts = ScriptDirectory.from_config(config).walk_revisions()
    return [script.revision for script in reversed(list(scripts))]


REVISIONS = script_revisions()
HEAD = REVISIONS[-1]


@pytest.fixture
def scratch_url(migrated, tmp_path):
    """A new, empty database of the kind the suite runs on."""
    if not migrated.startswith("postgresql"):
        yield f"sqlite:///{tmp_path}/upgrade.sqlite3"
        return
    with scratch_database(migrated, f"migrations_{uuid.uuid4().hex[:12]}") as url:
        yield url


def migrate(url: str, revision: str, *, down: bool = False, **config) -> None:
    with app_on(url, **{"SQLITE_BACKUPS": 0, **config}) as app, app.app_context():
        (downgrade if down else upgrade)(revision=revision)


def revisions_up_to(revision: str) -> list[str]:
    return REVISIONS[:REVISIONS.index(revision) + 1]


def insert_rows(url: str, revision: str) -> dict[str, list[dict]]:
    """The rows of every kind ``revision`` stores, with its columns; what was inserted, by table."""
    known = revisions_up_to(revision)
    engine = create_engine(url)
    metadata = MetaData()
    metadata.reflect(engine)
    inserted: dict[str, list[dict]] = {}
    with engine.begin() as connection:
        for since, table_name, row in migration_rows.rows(SECRET_KEYS):
            if since not in known:
                continue
            table = metadata.tables[table_name]
            kept = {key: value for key, value in row.items() if key in table.c}
            connection.execute(insert(table), kept)
            inserted.setdefault(table_name, []).append(kept)
        if engine.dialect.name == "postgresql":  # ids given explicitly: move the sequences past them
            for table_name in ("api_keys", "token_usage", "vector_store_chunks"):
                if table_name in inserted:
                    connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{table_name}', 'id'), "
                                            f"(SELECT max(id) FROM {table_name}))"))
    engine.dispose()
    return inserted


def normalized(value):
    """A value as every database gives it back: datetimes as naive UTC (SQLite keeps no zone)."""
    if hasattr(value, "tzinfo") and hasattr(value, "astimezone"):
        return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def assert_all_kept(url: str, inserted: dict[str, list[dict]]) -> None:
    """Each inserted row is in the database, every column it was inserted with unchanged; no row
    points at a row that does not exist."""
    engine = create_engine(url)
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as connection:
        for table_name, rows in inserted.items():
            table = metadata.tables[table_name]
            keys = [column.name for column in table.primary_key.columns]  # "id", or a composite key
            stored = {tuple(row._mapping[k] for k in keys): row._mapping
                      for row in connection.execute(select(table))}
            assert len(stored) == len(rows), (table_name, sorted(stored))
            for row in rows:
                key = tuple(row[k] for k in keys)
                found = stored.get(key)
                assert found is not None, (table_name, key)
                for column, value in row.items():
                    assert normalized(found[column]) == normalized(value), (table_name, key, column)
        assert dangling_rows(connection) == []
    engine.dispose()


def read_through_api(url: str, revision: str, fake, make_app) -> None:
    """What each kind of row is for, read through the API as its clients read it; and a turn on an
    upgraded conversation."""
    app = make_app(DATABASE_URL=url)
    client, auth = app.test_client(), headers_for(migration_rows.API_KEY)
    assistants = client.get("/assistants", headers=auth)
    assert assistants.status_code == 200
    assert {a["details"]["id"] for a in assistants.json} == {"asst_migrationHelper0001",
                                                             "asst_migrationAgent00002"}
    credential = client.get("/credentials/cred-0000-0000-0000-000000000001", headers=auth).json
    assert credential["api_key_hint"] == migration_rows.PROVIDER_KEY[-4:]
    chat = client.get("/openai/threads/thread_migrationChat0001/messages", headers=auth).json["data"]
    assert [m["content"] for m in chat] == ["Hello!", "Hi, how can I help?", "Weather in Oslo?", None,
                                            '{"celsius": -3}', "It is -3 °C in Oslo."]
    assert chat[3]["tool_calls"][0]["name"] == "weather"
    session = client.get("/openai/threads/thread_migrationSession02/messages", headers=auth).json["data"]
    assert len(session) == 3
    agent = client.get("/api/v1/compatibility/openai/v1/agents/asst-row-0000-0000-000000000002", headers=auth)
    assert agent.status_code == 200 and agent.json["metadata"] == {"team": "search"}
    assert agent.json["session_summarization_strategy"] == "summarize"
    pending = client.post("/openai/chat", headers=auth, json={
        "agent_id": "asst_migrationHelper0001", "thread_id": "thread_migrationPending03", "user_input": "Hi"})
    assert pending.status_code == 400 and "call_weather1" in pending.json["message"]
    if usage_known(revision):
        usage = client.get("/usage?start=2026-11-28&end=2026-11-29&group_by=assistant", headers=auth)
        assert usage.status_code == 200, usage.json
        assert sum(group["total_tokens"] for group in usage.json["data"]) == 53
    if responses_known(revision):
        items = client.get(f"/v1/conversations/{migration_rows.CONVERSATION}/items?order=asc",
                           headers=auth).json
        assert [item["type"] for item in items["data"]] == ["message", "message", "function_call",
                                                            "function_call_output"]
        response = client.get("/v1/responses/resp_migration000000001", headers=auth).json
        assert (response["output"][0]["content"][0]["text"] == "It rains."
                and response["status"] == "completed")
        assert response["conversation"] == {"id": migration_rows.CONVERSATION}
    if v2_known(revision):
        v2 = client.get("/v1/threads/thread_migrationV2thread4/messages?order=asc", headers=auth).json["data"]
        assert [m["content"][0]["text"]["value"] for m in v2] == ["Hi v2", "Hello v2", "Oslo weather?"]
        run = client.get("/v1/threads/thread_migrationV2thread4/runs/run_migrationRun0002", headers=auth).json
        assert run["status"] == "requires_action" and run["assistant_id"] == "asst_migrationHelper0001"
    if migration_rows.RUNS_OUTLIVE in revisions_up_to(revision):  # a run and reply of a deleted assistant
        thread = migration_rows.ORPHAN_THREAD
        run = client.get(f"/v1/threads/{thread}/runs/{migration_rows.ORPHAN_RUN}", headers=auth).json
        assert (run["status"], run["assistant_id"]) == ("completed", migration_rows.GONE_ASSISTANT)
        reply = client.get(f"/v1/threads/{thread}/messages", headers=auth).json["data"][0]
        assert (reply["run_id"], reply["assistant_id"]) == (migration_rows.ORPHAN_RUN,
                                                            migration_rows.GONE_ASSISTANT)
    if files_known(revision):
        content = client.get(f"/v1/files/{migration_rows.FILE}/content", headers=auth)
        assert content.status_code == 200 and content.data == b"%PDF-1.7\n"
        store = client.get(f"/v1/vector_stores/{migration_rows.STORE}", headers=auth).json
        assert (store["file_counts"]["completed"], store["usage_bytes"]) == (1, 180)
        old = client.get(f"/v1/vector_stores/{migration_rows.OLD_STORE}", headers=auth).json
        assert old["status"] == "expired"
        found = client.post(f"/v1/vector_stores/{migration_rows.STORE}/search", headers=auth,
                            json={"query": "vacation",
                                  "filters": {"type": "eq", "key": "year", "value": 2026}})
        texts = [result["content"][0]["text"] for result in found.json["data"]]
        assert texts == ["Every employee gets 27 vacation days."]
        thread = client.get("/v1/threads/thread_migrationV2thread4", headers=auth).json
        assert thread["tool_resources"] == {"file_search": {"vector_store_ids": [migration_rows.STORE]}}
    # A new turn on the upgraded conversation goes after its six messages.
    fake.reply = lambda messages: "Still here."
    turn = client.post("/openai/chat", headers=auth, json={
        "agent_id": "asst_migrationAgent00002", "thread_id": migration_rows.SESSION, "user_input": "Hello?"})
    assert turn.status_code == 200, turn.json
    session = client.get(f"/openai/threads/{migration_rows.SESSION}/messages", headers=auth).json["data"]
    assert len(session) == 5


def usage_known(revision: str) -> bool:
    return migration_rows.USAGE in revisions_up_to(revision)


def v2_known(revision: str) -> bool:
    return migration_rows.ASSISTANTS_V2 in revisions_up_to(revision)


def responses_known(revision: str) -> bool:
    return migration_rows.RESPONSES in revisions_up_to(revision)


def files_known(revision: str) -> bool:
    return migration_rows.FILES in revisions_up_to(revision)


def test_every_revision_has_its_rows():
    """A new migration lands with rows of the kinds it adds (migration_rows.py)."""
    assert list(migration_rows.REVISIONS) == REVISIONS


@pytest.mark.slow
@pytest.mark.parametrize("revision", REVISIONS)
def test_upgrade_and_downgrade_keep_every_row(revision, scratch_url, fake, make_app):
    migrate(scratch_url, revision)
    inserted = insert_rows(scratch_url, revision)
    migrate(scratch_url, "head")
    assert_all_kept(scratch_url, inserted)
    read_through_api(scratch_url, revision, fake, make_app)
    # The turn above added messages and a usage row: they must survive the way down and up too.
    inserted = _as_stored_now(scratch_url, inserted)
    target = revision if revision != HEAD else REVISIONS[-2]
    migrate(scratch_url, target, down=True)
    kept_below = {table: [row for row in rows if not _removed_by_downgrade(table, row, target)]
                  for table, rows in _only_columns_of(scratch_url, inserted).items()}
    assert_all_kept(scratch_url, kept_below)
    migrate(scratch_url, "head")
    assert_all_kept(scratch_url, kept_below)


def _as_stored_now(url: str, inserted: dict) -> dict:
    """Every row of the tables in ``inserted`` (and of messages and token_usage), as stored now: what
    the way down and up must keep, the rows the API turn wrote and changed included."""
    engine = create_engine(url)
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as connection:
        stored = {name: [dict(row._mapping) for row in connection.execute(select(metadata.tables[name]))]
                  for name in {*inserted, "messages", "token_usage"} if name in metadata.tables}
    engine.dispose()
    return stored


def _only_columns_of(url: str, inserted: dict) -> dict:
    """``inserted`` with only the tables and columns the database at ``url`` has now."""
    engine = create_engine(url)
    metadata = MetaData()
    metadata.reflect(engine)
    engine.dispose()
    return {table: [{k: v for k, v in row.items() if k in metadata.tables[table].c} for row in rows]
            for table, rows in inserted.items() if table in metadata.tables}


def _removed_by_downgrade(table: str, row: dict, target: str) -> bool:
    """Down to ``target``: below the Assistants-v2 revision, v2 threads (no assistant; conversations are such
    threads too) and their messages go; below the one where runs outlive their assistant, the runs that did
    (no assistant_id)."""
    kept = revisions_up_to(target)
    v2_threads = {migration_rows.V2_THREAD, migration_rows.ORPHAN_THREAD, migration_rows.CONVERSATION}
    if migration_rows.ASSISTANTS_V2 not in kept and (
            (table == "threads" and row["id"] in v2_threads)
            or (table == "messages" and row["thread_id"] in v2_threads)):
        return True
    return migration_rows.RUNS_OUTLIVE not in kept and table == "runs" and row["assistant_id"] is None


def test_a_downgrade_leaves_nothing_dangling(scratch_url):
    """Downgrading past the v2 migration drops v2 threads with their messages: no orphan is left
    (on SQLite the migration runs with foreign keys off, so no cascade would do it)."""
    migrate(scratch_url, HEAD)
    insert_rows(scratch_url, HEAD)
    migrate(scratch_url, migration_rows.USAGE, down=True)
    engine = create_engine(scratch_url)
    with engine.connect() as connection:
        assert dangling_rows(connection) == []
        assert connection.execute(text("SELECT count(*) FROM messages")).scalar() == 11
    engine.dispose()


def test_an_upgrade_that_would_leave_dangling_rows_fails_loudly(scratch_url, tmp_path):
    """Rows already pointing nowhere (written with foreign keys off) fail the upgrade, naming them."""
    if not scratch_url.startswith("sqlite"):
        pytest.skip("PostgreSQL enforces foreign keys on every write: no row can dangle there")
    migrate(scratch_url, migration_rows.USAGE)
    insert_rows(scratch_url, migration_rows.USAGE)
    path = scratch_url.split("///", 1)[1]
    with sqlite3.connect(path) as connection:
        connection.execute("INSERT INTO messages (id, thread_id, position, role, content, is_summary, "
                           "created_at) VALUES ('msg_orphan', 'thread_gone', 0, 'user', 'x', 0, "
                           "'2026-11-28 10:00:00')")
    with pytest.raises(SystemExit):  # Flask-Migrate logs the RuntimeError and exits 1
        migrate(scratch_url, "head", SQLITE_BACKUPS=2)
    backups = os.listdir(tmp_path / "backups")
    assert len(backups) == 1 and backups[0].endswith(f"-{migration_rows.USAGE}.sqlite3")


@pytest.mark.slow
def test_flask_db_upgrade_backs_up_a_sqlite_file_and_keeps_every_message(tmp_path):
    """The operator's upgrade, as `make run` does it: `flask db upgrade` on the file of the release of
    2026-11-29 (the initial schema) with a conversation, a session and a pending tool call in it."""
    url = f"sqlite:///{tmp_path}/assistants.sqlite3"
    migrate(url, migration_rows.INITIAL)
    insert_rows(url, migration_rows.INITIAL)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("FLASK_")},
           "DATABASE_URL": url, "ASSISTANTS_SECRET_KEYS": SECRET_KEYS, "SQLITE_BACKUPS": "2"}
    outputs = []
    for _ in range(3):  # three upgrades: the first changes the schema, the others find nothing to do
        done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stderr)
        migrate(url, migration_rows.INITIAL, down=True)  # back down, so the next one changes it again
    backups = sorted(Path(tmp_path, "backups").iterdir())
    assert len(backups) == 2  # SQLITE_BACKUPS=2: the oldest copy went
    assert all(oct(path.stat().st_mode & 0o777) == "0o600" for path in backups)
    assert f"Backed up {tmp_path}/assistants.sqlite3 to {backups[-1]}" in outputs[-1]
    with sqlite3.connect(backups[-1]) as copy:  # a copy of the file as it was: the initial schema
        assert copy.execute("SELECT version_num FROM alembic_version").fetchone() == (migration_rows.INITIAL,)
        assert copy.execute("SELECT count(*) FROM messages").fetchone() == (11,)
    migrate(url, "head")
    with sqlite3.connect(tmp_path / "assistants.sqlite3") as upgraded:
        assert upgraded.execute("SELECT count(*) FROM messages").fetchone() == (11,)


def test_a_fresh_database_is_not_backed_up(tmp_path):
    url = f"sqlite:///{tmp_path}/new.sqlite3"
    migrate(url, "head", SQLITE_BACKUPS=3)
    assert not (tmp_path / "backups").exists()


def test_check_data_reports_threads_that_lost_their_history(scratch_url, make_app):
    """`flask data check` on a database upgraded by the release that lost messages: the conversations
    that were used but hold no message are named; a sound database passes."""
    migrate(scratch_url, "head")
    insert_rows(scratch_url, HEAD)
    runner = make_app(DATABASE_URL=scratch_url).test_cli_runner()
    sound = runner.invoke(args=["data", "check"])
    assert sound.exit_code == 0, sound.output
    assert "No problem found" in sound.output
    with app_on(scratch_url) as app, app.app_context():
        db.session.execute(text("DELETE FROM messages WHERE thread_id = 'thread_migrationChat0001'"))
        db.session.commit()
    lost = runner.invoke(args=["data", "check"])
    assert lost.exit_code == 1
    assert "thread_migrationChat0001" in lost.output and "thread_migrationSession02" not in lost.output
