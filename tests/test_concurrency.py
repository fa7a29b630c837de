"""Concurrent writers: parallel updates of one assistant, ETag / If-Match, and concurrent turns
on one thread across real gunicorn workers (tests/live_server.py), on SQLite and PostgreSQL."""
import threading
import time

import pytest

from .fake_openai import Fault
from .helpers import make_assistant
from .live_server import parallel

INITIAL_ICON = "/images/initial.png"
WRITERS = 20


def writer_bodies(round_number: int, credential_id: str) -> list[dict]:
    return [writer_body(round_number, i, credential_id) for i in range(WRITERS)]


def writer_body(round_number: int, i: int, credential_id: str) -> dict:
    # Every writer changes details (new in each round); the other fields keep their old value for
    # some writers and not others, so a mix of two writers' fields cannot pass for either of them.
    return {
        "details": {"model": f"model-{round_number}-{i}", "name": f"writer {i}",
                    "instructions": f"Writer {i} was here.", "temperature": i / 10},
        "credential": credential_id if i % 2 else None,
        "iconSrc": INITIAL_ICON if i % 3 == 0 else f"/images/{i}.png",
        "type": ("OPENAI", "AZURE", "CUSTOM")[i % 4 % 3],
    }


def state(assistant: dict) -> dict:
    details = {k: v for k, v in assistant["details"].items() if k != "id"}
    return {"details": details, "credential": assistant["credential"], "iconSrc": assistant["iconSrc"],
            "type": assistant["type"]}


def writers_matching(final: dict, bodies: list[dict]) -> list[int]:
    return [i for i, body in enumerate(bodies) if state(final) == body]


def make_target(server) -> tuple[str, str]:
    """An assistant to write to, and a credential id for the writers' bodies."""
    credential = server.request("POST", "/credentials", {
        "name": "writers", "provider": "openai_compatible", "base_url": "http://127.0.0.1:9/v1",
        "api_key": "k"})
    assert credential.status == 201, credential
    created = server.request("POST", "/assistants", {
        "details": {"model": "initial"}, "iconSrc": INITIAL_ICON, "type": "OPENAI"})
    assert created.status == 200, created
    return created.body["id"], credential.body["id"]


@pytest.mark.slow  # a real gunicorn; in the default run too
def test_parallel_puts_end_in_one_writers_state(shared_live_server):
    server = shared_live_server
    assistant_id, credential_id = make_target(server)
    for round_number in range(5):
        bodies = writer_bodies(round_number, credential_id)
        replies = parallel([lambda body=body: server.request("PUT", f"/assistants/{assistant_id}", body)
                            for body in bodies])
        assert [reply.status for reply in replies] == [200] * WRITERS, replies
        final = server.request("GET", f"/assistants/{assistant_id}").body
        assert len(writers_matching(final, bodies)) == 1, final


@pytest.mark.slow  # a real gunicorn; in the default run too
def test_parallel_puts_with_one_if_match_have_one_winner(shared_live_server):
    server = shared_live_server
    assistant_id, credential_id = make_target(server)
    for round_number in range(3):
        bodies = writer_bodies(round_number, credential_id)  # each changes the assistant: a new ETag
        etag = server.request("GET", f"/assistants/{assistant_id}").headers["ETag"]
        replies = parallel([lambda body=body: server.request("PUT", f"/assistants/{assistant_id}", body,
                                                             {"If-Match": etag}) for body in bodies])
        winners = [i for i, reply in enumerate(replies) if reply.status == 200]
        assert len(winners) == 1, [(r.status, r.body, r.error) for r in replies]
        for reply in replies:
            if reply.status != 200:
                assert reply.status == 412 and reply.body["code"] == 412, reply
        final = server.request("GET", f"/assistants/{assistant_id}")
        assert writers_matching(final.body, bodies) == winners
        assert final.headers["ETag"] == replies[winners[0]].headers["ETag"]


def test_etag_and_if_match_on_assistant_updates(client, auth):
    created = make_assistant(client, auth)
    url = f"/assistants/{created['id']}"
    fetched = client.get(url, headers=auth)
    etag = fetched.headers["ETag"]
    assert client.get(url, headers={**auth, "If-None-Match": etag}).status_code == 304

    fresh = client.put(url, json={"details": {"model": "gpt-4o"}}, headers={**auth, "If-Match": etag})
    assert fresh.status_code == 200 and fresh.headers["ETag"] not in (None, etag)
    assert client.get(url, headers=auth).headers["ETag"] == fresh.headers["ETag"]

    stale = client.put(url, json={"details": {"model": "stale"}}, headers={**auth, "If-Match": etag})
    assert stale.status_code == 412
    assert stale.json["code"] == 412 and stale.json["status"] == "Precondition Failed"
    assert set(stale.json) <= {"code", "status", "message", "errors"}
    assert client.get(url, headers=auth).json["details"]["model"] == "gpt-4o"

    # Flowise's clients send no If-Match: an unconditional write, never 428.
    unconditional = client.put(url, json={"details": {"model": "flowise"}}, headers=auth)
    assert unconditional.status_code == 200 and unconditional.json["details"]["model"] == "flowise"
    starred = client.put(url, json={"details": {"model": "any"}}, headers={**auth, "If-Match": "*"})
    assert starred.status_code == 200

    assert client.delete(url, headers={**auth, "If-Match": etag}).status_code == 412
    current = client.get(url, headers=auth).headers["ETag"]
    assert client.delete(url, headers={**auth, "If-Match": current}).status_code == 200
    assert client.get(url, headers=auth).status_code == 404


def test_if_match_is_documented_optional(client):
    operations = client.get("/openapi.json").json["paths"]["/assistants/{assistant_id}"]
    for method in ("put", "delete"):
        if_match = [p for p in operations[method]["parameters"] if p.get("name") == "If-Match"]
        assert if_match and if_match[0]["required"] is False
        assert "412" in operations[method]["responses"] and "428" not in operations[method]["responses"]
    assert "ETag" in operations["get"]["responses"]["200"]["headers"]


def connections_on_two_workers(server):
    """Two keep-alive connections held by different gunicorn workers."""
    for _ in range(20):
        by_worker = server.connections_by_worker()
        if len(by_worker) >= 2:
            return list(by_worker.values())[:2]
        for connection in by_worker.values():
            connection.close()
    raise AssertionError("every connection landed on the same worker")


@pytest.mark.slow  # a real gunicorn; in the default run too
def test_two_turns_at_once_across_workers_one_200_one_409(shared_live_server, fake):
    fake.delay = 0.8  # the first turn is still running when the second arrives, even on a busy machine
    server = shared_live_server
    agent = server.request("POST", "/assistants", {"details": {"model": "gpt-4"}}).body
    thread_id = server.request("POST", "/openai/initialize", {"agent_id": agent["id"]}).body["thread_id"]
    first, second = connections_on_two_workers(server)
    expected = []
    for round_number in range(10):
        workers = [server.worker_of(first), server.worker_of(second)]
        assert len(set(workers)) == 2 and None not in workers, workers
        texts = [f"round {round_number} from worker {pid}" for pid in workers]
        turns = [{"agent_id": agent["id"], "thread_id": thread_id, "user_input": text} for text in texts]
        turns[0]["stream"] = round_number % 2 == 1
        replies = parallel([lambda: server.request("POST", "/openai/chat", turns[0], connection=first),
                            lambda: server.request("POST", "/openai/chat", turns[1], connection=second)])
        assert sorted(reply.status for reply in replies) == [200, 409], replies
        winner, loser = (0, 1) if replies[0].status == 200 else (1, 0)
        assert replies[loser].seconds < 0.5, replies[loser]
        assert replies[loser].body["code"] == 409 and "in progress" in replies[loser].body["message"]
        if isinstance(replies[winner].body, str):
            assert "event: done" in replies[winner].body, replies[winner].body
        else:
            assert replies[winner].body["response"] == f"Echo: {texts[winner]}"
        expected += [texts[winner], f"Echo: {texts[winner]}"]
    history = server.request("GET", f"/openai/threads/{thread_id}/messages").body["data"]
    assert [message["content"] for message in history] == expected
    assert [message["role"] for message in history] == ["user", "assistant"] * 10


@pytest.mark.slow  # a real gunicorn; in the default run too
def test_a_slow_provider_update_does_not_stall_another_workers_write(live_server, fake):
    """The assistants backend updates the provider's twin before it locks the row (on SQLite, the
    database's one write lock): a provider that takes 5 s holds up no other worker's write."""
    server = live_server(OPENAI_TIMEOUT="20")  # the update waits on the provider, then succeeds
    credential = server.request("POST", "/credentials", {
        "name": "twins", "provider": "openai_compatible", "base_url": fake.base_url, "api_key": "sk-k",
        "api": "assistants"}).body["id"]
    twin = server.request("POST", "/assistants",
                          {"details": {"model": "gpt-4"}, "credential": credential}).body
    fake.add_fault(Fault("delay", seconds=5, path=f"/assistants/{twin['details']['id']}"))
    slow_connection, other_worker = connections_on_two_workers(server)
    slow = {}
    updating = threading.Thread(target=lambda: slow.setdefault("put", server.request(
        "PUT", f"/assistants/{twin['id']}", {"details": {"model": "gpt-4o"}}, connection=slow_connection)))
    updating.start()
    while not fake.requests_to(f"/assistants/{twin['details']['id']}"):
        time.sleep(0.01)
    # While the provider takes its 5 s, the other worker writes (a create and an update) and answers.
    created = server.request("POST", "/assistants", {"details": {"model": "quick"}}, connection=other_worker)
    updated = server.request("PUT", f"/assistants/{created.body['id']}", {"details": {"model": "quicker"}},
                             connection=other_worker)
    assert (created.status, updated.status) == (200, 200), (created, updated)
    assert "put" not in slow, "the slow update ended first: the test did not overlap the two"
    updating.join(30)
    assert slow["put"].status == 200 and slow["put"].body["details"]["model"] == "gpt-4o", slow["put"]
    print(f"\nwrites on the other worker while the provider took 5 s: {created.seconds:.3f} s, "
          f"{updated.seconds:.3f} s")
