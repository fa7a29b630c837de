"""Sessions (seed 003) and threads (seed 004): session_max_ttl with a controllable clock,
`flask threads purge`, and session_max_length with both reduction strategies."""
from datetime import datetime, timedelta, timezone

import pytest

from .helpers import AGENTS, chat, create_agent, make_credential, make_thread, parse_stream, user

INSTRUCTIONS = "Be brief."
PREFIX = "Summary of the earlier conversation: "
SUMMARY = "The user asked numbered questions."


@pytest.fixture
def clock(app):
    """app.config["CLOCK"], moved by tests: clock.move(seconds)."""
    class Clock:
        now = datetime.now(timezone.utc)

        def move(self, seconds):
            self.now += timedelta(seconds=seconds)

    moving = Clock()
    app.config["CLOCK"] = lambda: moving.now
    return moving


def history(client, auth, session_id):
    response = client.get(f"/openai/threads/{session_id}/messages", headers=auth)
    assert response.status_code == 200, response.json
    return [(m["role"], m["content"]) for m in response.json["data"]]


def provider_turns(fake):
    """The chat turns the provider received (summaries excluded), without the instructions."""
    turns = []
    for request in fake.requests_to("/chat/completions"):
        messages = request.json["messages"]
        if messages[0]["content"].startswith("Summarize"):
            continue
        turns.append([(m["role"], m["content"]) for m in messages if m["content"] != INSTRUCTIONS])
    return turns


def summaries_asked(fake):
    return [r.json["messages"] for r in fake.requests_to("/chat/completions")
            if r.json["messages"][0]["content"].startswith("Summarize")]


def short_replies(conversation):
    return SUMMARY if conversation[0]["content"].startswith("Summarize") else "ok"


def question(index, width=50):
    return f"question {index} ".ljust(width, ".")


# ---------------------------------------------------------------- session_max_ttl

def test_idle_session_expires(client, auth, fake, clock):
    agent = create_agent(client, auth, session_max_ttl=60)
    session_id = chat(client, auth, agent["id"], [user("a")], create_session=True).json["session_id"]
    clock.move(59)
    assert chat(client, auth, agent["id"], [user("b")], store_in_session=session_id).status_code == 200
    clock.move(59)  # idle time counts from the last write, not from the start
    assert chat(client, auth, agent["id"], [user("c")], store_in_session=session_id).status_code == 200
    clock.move(61)
    expired = chat(client, auth, agent["id"], [user("d")], store_in_session=session_id)
    assert (expired.status_code == 404 and "expired" in expired.json["detail"]
            and "60 seconds" in expired.json["detail"])
    # The same row is a seed-004 thread: it is expired there too.
    thread = client.get(f"/openai/threads/{session_id}/messages", headers=auth)
    assert thread.status_code == 404 and "expired" in thread.json["message"]


def test_streamed_turns_count_as_writes(client, auth, fake, clock):
    agent = create_agent(client, auth, session_max_ttl=60)
    session_id = chat(client, auth, agent["id"], [user("a")], create_session=True).json["session_id"]
    clock.move(50)
    parse_stream(chat(client, auth, agent["id"], [user("b")], store_in_session=session_id, stream=True))
    clock.move(50)
    assert chat(client, auth, agent["id"], [user("c")], store_in_session=session_id).status_code == 200


def test_seed_004_threads_expire_and_stream_without_keeping_the_lock(client, auth, fake, clock):
    agent = create_agent(client, auth, session_max_ttl=30)
    thread_id = make_thread(client, auth, agent["id"])
    turn = {"agent_id": agent["id"], "thread_id": thread_id, "user_input": "hi"}
    streamed = client.post("/openai/chat", json={**turn, "stream": True}, headers=auth)
    assert streamed.status_code == 200 and "event: done" in streamed.get_data(as_text=True)
    assert client.post("/openai/chat", json=turn, headers=auth).status_code == 200
    clock.move(31)
    expired = client.post("/openai/chat", json=turn, headers=auth)
    assert expired.status_code == 404 and "expired" in expired.json["message"]


def test_threads_purge_deletes_expired_threads(app, client, auth, fake, clock):
    credential = make_credential(client, auth, base_url=fake.base_url, api="responses")
    remote = create_agent(client, auth, session_max_ttl=60, credential=credential["id"])
    local = create_agent(client, auth, session_max_ttl=60)
    forever = create_agent(client, auth)
    old_remote = chat(client, auth, remote["id"], [user("a")], create_session=True).json["session_id"]
    old_local = chat(client, auth, local["id"], [user("a")], create_session=True).json["session_id"]
    old_forever = chat(client, auth, forever["id"], [user("a")], create_session=True).json["session_id"]
    clock.move(50)
    fresh = chat(client, auth, local["id"], [user("b")], create_session=True).json["session_id"]
    assert len(fake.conversations) == 1
    clock.move(50)

    result = app.test_cli_runner().invoke(args=["threads", "purge"])
    assert result.exit_code == 0, result.output
    assert "Deleted 2 expired thread(s)." in result.output
    for gone, agent in ((old_remote, remote), (old_local, local)):
        response = chat(client, auth, agent["id"], [user("x")], store_in_session=gone)
        assert response.status_code == 404 and "No session" in response.json["detail"]
    assert fake.conversations == {}  # the provider-side conversation went too
    assert chat(client, auth, local["id"], [user("c")], store_in_session=fresh).status_code == 200
    assert chat(client, auth, forever["id"], [user("c")], store_in_session=old_forever).status_code == 200
    assert "Deleted 0 expired thread(s)." in app.test_cli_runner().invoke(args=["threads", "purge"]).output


# ---------------------------------------------------------------- session_max_length

def test_delete_oldest_drops_whole_turns(client, auth, fake):
    fake.reply = short_replies
    agent = create_agent(client, auth, instructions=INSTRUCTIONS, session_max_length=40,
                         session_summarization_strategy="delete_oldest")
    questions = [question(i, width=10) for i in range(5)]
    session_id = chat(client, auth, agent["id"], [user(questions[0])], create_session=True).json["session_id"]
    for text in questions[1:]:
        assert chat(client, auth, agent["id"], [user(text)], store_in_session=session_id).status_code == 200
    for sent in provider_turns(fake):
        assert sum(len(content) for _, content in sent) <= 40
    assert provider_turns(fake)[-1] == [("user", questions[2]), ("assistant", "ok"), ("user", questions[3]),
                                        ("assistant", "ok"), ("user", questions[4])]
    assert history(client, auth, session_id) == [
        (role, content) for q in questions[2:] for role, content in (("user", q), ("assistant", "ok"))]
    assert summaries_asked(fake) == []


def test_summarize_keeps_a_summary_first(client, auth, fake):
    fake.reply = short_replies
    agent = create_agent(client, auth, instructions=INSTRUCTIONS, session_max_length=300,
                         session_summarization_strategy="summarize")
    questions = [question(i) for i in range(8)]
    session_id = chat(client, auth, agent["id"], [user(questions[0])], create_session=True).json["session_id"]
    for text in questions[1:6]:
        assert chat(client, auth, agent["id"], [user(text)], store_in_session=session_id).status_code == 200

    # The sixth turn passed 300 characters: the three oldest turns became a summary.
    [asked] = summaries_asked(fake)
    assert "Use at most" in asked[0]["content"]
    assert all(q in asked[1]["content"] for q in questions[:3]) and questions[3] not in asked[1]["content"]
    summary = ("system", PREFIX + SUMMARY)
    kept = [(role, content) for q in questions[3:5] for role, content in (("user", q), ("assistant", "ok"))]
    assert provider_turns(fake)[-1] == [summary, *kept, ("user", questions[5])]
    assert history(client, auth, session_id) == [summary, *kept, ("user", questions[5]), ("assistant", "ok")]

    # Later reductions fold the old summary into the new one: there is only ever one.
    for text in questions[6:]:
        assert chat(client, auth, agent["id"], [user(text)], store_in_session=session_id).status_code == 200
    assert len(summaries_asked(fake)) == 2 and PREFIX + SUMMARY in summaries_asked(fake)[1][1]["content"]
    stored = history(client, auth, session_id)
    assert stored[0] == summary and [m for m in stored if m[1].startswith(PREFIX)] == [summary]
    for sent in provider_turns(fake):
        assert sum(len(content) for _, content in sent) <= 300


def test_summary_goes_as_a_user_message_without_a_system_role(client, auth, fake):
    fake.reply = short_replies
    agent = create_agent(client, auth, instructions=INSTRUCTIONS, session_max_length=300,
                         session_summarization_strategy="summarize",
                         chat_system_instruction_mode="user-message")
    session_id = chat(client, auth, agent["id"], [user(question(0))], create_session=True).json["session_id"]
    for index in range(1, 6):
        chat(client, auth, agent["id"], [user(question(index))], store_in_session=session_id)
    last = fake.requests_to("/chat/completions")[-1].json["messages"]
    assert {m["role"] for m in last} == {"user", "assistant"}
    assert last[0]["content"] == f"{INSTRUCTIONS}\n\n{PREFIX}{SUMMARY}"


@pytest.mark.parametrize("stream", [False, True])
def test_a_failed_turn_keeps_the_history_unreduced(client, auth, fake, stream):
    fake.reply = short_replies
    agent = create_agent(client, auth, session_max_length=300, session_summarization_strategy="summarize")
    session_id = chat(client, auth, agent["id"], [user(question(0))], create_session=True).json["session_id"]
    for index in range(1, 5):
        chat(client, auth, agent["id"], [user(question(index))], store_in_session=session_id)
    before = history(client, auth, session_id)

    def summarize_then_hang_up(conversation):
        if conversation[0]["content"].startswith("Summarize"):
            return SUMMARY
        raise ConnectionResetError  # the fake drops the connection: the turn fails

    fake.reply = summarize_then_hang_up
    failed = chat(client, auth, agent["id"], [user(question(5))], store_in_session=session_id, stream=stream)
    assert failed.status_code == 502, failed.get_data(as_text=True)
    assert summaries_asked(fake)  # the reduction was prepared...
    assert history(client, auth, session_id) == before  # ...and not written
    fake.reply = short_replies
    done = chat(client, auth, agent["id"], [user(question(5))], store_in_session=session_id, stream=stream)
    if stream:
        parse_stream(done)
    assert history(client, auth, session_id)[0] == ("system", PREFIX + SUMMARY)


def test_a_turn_longer_than_the_limit_is_422(client, auth, fake):
    agent = create_agent(client, auth, session_max_length=20)
    session_id = chat(client, auth, agent["id"], [user("short")], create_session=True).json["session_id"]
    response = chat(client, auth, agent["id"], [user("x" * 21)], store_in_session=session_id)
    assert response.status_code == 422 and response.json["detail"][0]["loc"] == ["body", "messages"]
    assert "session_max_length" in response.json["detail"][0]["msg"]
    # Stateless turns have no session, so no session limit.
    assert chat(client, auth, agent["id"], [user("x" * 21)]).status_code == 200


def test_the_limit_applies_to_seed_004_threads(client, auth, fake):
    fake.reply = short_replies
    agent = create_agent(client, auth, session_max_length=40)
    client.post(f"{AGENTS}/{agent['id']}", json={"session_summarization_strategy": "delete_oldest"},
                headers=auth)
    thread_id = make_thread(client, auth, agent["id"])
    questions = [question(index, width=10) for index in range(5)]
    for text in questions:
        response = client.post("/openai/chat", headers=auth, json={
            "agent_id": agent["id"], "thread_id": thread_id, "user_input": text})
        assert response.status_code == 200
    # 40 characters hold the last three turns (13 each): the oldest two were dropped whole.
    assert history(client, auth, thread_id) == [
        (role, content) for q in questions[2:] for role, content in (("user", q), ("assistant", "ok"))]
    assert provider_turns(fake)[-1] == [("user", questions[2]), ("assistant", "ok"), ("user", questions[3]),
                                        ("assistant", "ok"), ("user", questions[4])]
