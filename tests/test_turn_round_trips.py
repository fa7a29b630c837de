"""A chat turn's round trips to PostgreSQL (services/thread_turn.py, turn_lock.record_in_one_statement):
the seed-004 turn reads its thread, takes the lock, reads the history and records, four statements
in autocommit and no BEGIN or COMMIT; what it stores is what the transaction stored. A turn with
more messages than one statement binds records in a transaction."""
import os

import pytest
from sqlalchemy import event, text

from assistants_app.database import db
from assistants_app.services.thread_turn import ONE_STATEMENT_ROWS

from .helpers import auth_for, chat, create_agent, make_assistant, make_thread, user

DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
pytestmark = pytest.mark.skipif(not DATABASE_URL.startswith("postgresql"),
                                reason="SQLite has no data-modifying WITH: it records in a transaction")


def watch(app) -> list[tuple[str, bool]]:
    """Every statement the app sends from now on: its first word and whether the connection was in
    autocommit. psycopg sends BEGIN itself (no statement here): a False is a transaction's."""
    statements = []

    def note(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement.split()[0], conn.connection.driver_connection.autocommit))

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", note)
    return statements


def rows(app, sql: str, **parameters) -> list:
    with app.app_context():
        found = db.session.execute(text(sql), parameters).all()
        db.session.remove()
    return found


@pytest.mark.parametrize("stream", [False, True])
def test_a_turn_is_four_statements_in_autocommit_and_stores_what_a_transaction_stored(make_app, fake, stream):
    app = make_app()
    client, headers = app.test_client(), auth_for(app)
    agent_id = make_assistant(client, headers)["id"]
    thread_id = make_thread(client, headers, agent_id)
    turn = {"agent_id": agent_id, "thread_id": thread_id, "stream": stream}
    first = client.post("/openai/chat", json={**turn, "user_input": "first"}, headers=headers)
    assert first.status_code == 200 and first.get_data()  # a stream is read: its turn ends as it is
    statements = watch(app)

    answer = client.post("/openai/chat", json={**turn, "user_input": "second"}, headers=headers)
    assert answer.status_code == 200 and answer.get_data()
    assert [word for word, _ in statements] == ["SELECT", "UPDATE", "SELECT", "WITH"]
    assert all(autocommit for _, autocommit in statements)
    stored = rows(app, "SELECT position, role, content, tool_calls::text, is_summary FROM messages "
                       "WHERE thread_id = :thread ORDER BY position", thread=thread_id)
    assert stored == [(0, "user", "first", "null", False), (1, "assistant", "Echo: first", "null", False),
                      (2, "user", "second", "null", False), (3, "assistant", "Echo: second", "null", False)]
    assert rows(app, "SELECT turn_token, pending_tool_calls::text FROM threads WHERE id = :thread",
                thread=thread_id) == [(None, "null")]
    assert rows(app, "SELECT count(*), min(api), min(prompt_tokens) FROM token_usage "
                     "WHERE assistant_id = :agent", agent=agent_id)[0][:2] == (2, "conversations")
    # The next turn's history holds the four: the one statement committed them, and freed the lock.
    third = client.post("/openai/chat", json={**turn, "user_input": "third"}, headers=headers)
    assert third.status_code == 200 and third.get_data()
    sent = [r for r in fake.requests_to("/chat/completions") if r.method == "POST"][-1].json["messages"]
    assert [m["content"] for m in sent if m["role"] != "system"] == [
        "first", "Echo: first", "second", "Echo: second", "third"]


def test_more_messages_than_one_statement_binds_are_recorded_in_a_transaction(make_app):
    app = make_app()
    client, headers = app.test_client(), auth_for(app)
    agent = create_agent(client, headers)
    many = [user(f"message {n}") for n in range(ONE_STATEMENT_ROWS)]  # and the reply: one row too many
    statements = watch(app)

    answer = chat(client, headers, agent["id"], many, create_session=True)
    assert answer.status_code == 200, answer.json
    assert "INSERT" in [word for word, _ in statements] and "WITH" not in [word for word, _ in statements]
    stored = rows(app, "SELECT role, content FROM messages WHERE thread_id = :session ORDER BY position",
                  session=answer.json["session_id"])
    assert stored[:-1] == [("user", f"message {n}") for n in range(ONE_STATEMENT_ROWS)]
    assert stored[-1][0] == "assistant" and len(stored) == ONE_STATEMENT_ROWS + 1


@pytest.mark.parametrize("stream", [False, True])
def test_a_stateless_agents_turn_reads_the_agent_and_writes_its_usage_in_autocommit(make_app, stream):
    app = make_app()
    client, headers = app.test_client(), auth_for(app)
    agent = create_agent(client, headers)
    statements = watch(app)

    answer = chat(client, headers, agent["id"], [user("hello")], stream=stream)
    assert answer.status_code == 200 and answer.get_data()
    assert statements == [("SELECT", True), ("INSERT", True)]
    assert rows(app, "SELECT count(*), min(api) FROM token_usage WHERE assistant_id = :agent",
                agent=agent["id"]) == [(1, "agents")]
