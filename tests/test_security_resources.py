"""What one tenant can make the service spend or reveal: no database connection held while a
provider answers, a whole-call deadline and a size cap on every provider reply, bounded caches,
a cap on the providers one list may ask; and the smaller guards: remote assistants adopted only
by their tenant, keys with control characters refused, X-Request-Id checked, private files."""
import json
import logging
import os
import stat
import threading
import time

import openai
import pytest

from assistants_app.extensions import db
from assistants_app.openai_adapter import Connection
from assistants_app.openai_adapter.errors import log_failure, scrub
from assistants_app.answer_cache import KeyedLocks, MemoryStore

from .fake_openai import Fault
from .helpers import AGENTS, app_on, key_on, make_assistant, make_credential, make_key, make_thread
from .listeners import Listener


def credential_on(client, auth, base_url, api="chat_completions", **fields):
    return make_credential(client, auth, name="p", base_url=base_url, api_key="sk-k", api=api, **fields)["id"]


def assistant_on(client, auth, credential_id=None, model="gpt-4"):
    return make_assistant(client, auth, credential_id, model=model)


# ---------------------------------------------------------------------------- connections


def connections_held_while_the_provider_answers(app, fake, request) -> list[int]:
    """Run ``request()`` with the fake answering slowly; the pool's checked-out connections each
    time a provider call arrives at the fake."""
    with app.app_context():
        pool = db.engine.pool
    seen, done = [], threading.Event()
    fake.delay = 0.4

    def watch():
        count = 0
        while not done.is_set():
            if len(fake.requests) > count:
                count = len(fake.requests)
                time.sleep(0.1)  # the call is under way: the fake sleeps 0.4 s before answering
                seen.append(pool.checkedout())
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        response = request()
    finally:
        done.set()
        watcher.join()
        fake.delay = 0
    assert response.status_code < 300, response.get_data(as_text=True)
    response.get_data()
    return seen


@pytest.mark.slow
def test_no_database_connection_is_held_across_any_provider_call(app, client, auth, fake):
    chat = credential_on(client, auth, fake.base_url)
    responses = credential_on(client, auth, fake.base_url, api="responses")
    remote = credential_on(client, auth, fake.base_url, api="assistants")
    agent = assistant_on(client, auth, chat)
    conversation = assistant_on(client, auth, responses)
    twin = assistant_on(client, auth, remote)
    thread = make_thread(client, auth, agent["id"])
    turn = {"agent_id": agent["id"], "thread_id": thread, "user_input": "hi"}
    completion = {"messages": [{"role": "user", "content": "hi"}]}
    remote_thread = {}

    def fresh_agent():  # on a credential of its own: its status is not cached yet
        return assistant_on(client, auth, credential_on(client, auth, fake.base_url))["id"]

    requests = {
        "get_models": lambda: client.get("/openai/get_models", headers=auth,
                                         query_string={"credential": chat}),
        "chat": lambda: client.post("/openai/chat", headers=auth, json=turn),
        "streamed chat": lambda: client.post("/openai/chat", headers=auth, json={**turn, "stream": True}),
        "agent status": lambda: client.get(f"{AGENTS}/{fresh_agent()}", headers=auth),
        "agents list": lambda: client.get(AGENTS, headers=auth),
        "create agent": lambda: client.post(AGENTS, headers=auth,
                                            json={"model": "gpt-4", "credential": remote}),
        "update agent": lambda: client.post(f"{AGENTS}/{twin['id']}", headers=auth, json={"name": "n"}),
        "stateless completion": lambda: client.post(f"{AGENTS}/{agent['id']}/chat/completions", headers=auth,
                                                    json=completion),
        "streamed completion": lambda: client.post(f"{AGENTS}/{agent['id']}/chat/completions", headers=auth,
                                                   json={**completion, "stream": True}),
        "initialize remote": lambda: remote_thread.setdefault("r", client.post(
            "/openai/initialize", headers=auth, json={"agent_id": conversation["id"]})),
        "delete remote thread": lambda: client.delete(
            f"/openai/threads/{remote_thread['r'].json['thread_id']}", headers=auth),
        "create twin": lambda: client.post("/assistants", headers=auth, json={"details": {"model": "gpt-4"},
                                                                              "credential": remote}),
        "update twin": lambda: client.put(f"/assistants/{twin['id']}", headers=auth,
                                          json={"details": {"model": "gpt-4o"}}),
        "delete twin": lambda: client.delete(f"/assistants/{twin['id']}?isDeleteBoth=true", headers=auth),
    }
    for name, request in requests.items():
        fake.requests.clear()
        seen = connections_held_while_the_provider_answers(app, fake, request)
        assert seen and set(seen) == {0}, (name, seen)


def test_an_update_whose_row_moved_during_the_provider_call_is_409(app, client, auth, fake):
    twin = assistant_on(client, auth, credential_on(client, auth, fake.base_url, api="assistants"))
    other = app.test_client()
    fake.add_fault(Fault("delay", seconds=0.5, path=f"/assistants/{twin['details']['id']}"))
    result = {}
    slow = threading.Thread(target=lambda: result.setdefault("put", client.put(
        f"/assistants/{twin['id']}", headers=auth,
        json={"details": {"model": "gpt-4o"}, "iconSrc": "/slow.png"})))
    slow.start()
    while not fake.requests_to(f"/assistants/{twin['details']['id']}"):
        time.sleep(0.01)
    # Not blocked by the slow update: it holds no lock while the provider answers.
    quick = other.put(f"/assistants/{twin['id']}", headers=auth, json={"iconSrc": "/quick.png"})
    assert quick.status_code == 200
    slow.join()
    assert result["put"].status_code == 409
    assert result["put"].json["message"] == ("This assistant changed while the provider was updated; read it "
                                             "again and retry.")
    assert client.get(f"/assistants/{twin['id']}", headers=auth).json["iconSrc"] == "/quick.png"


# ---------------------------------------------------------------------------- starvation, deadlines, size


@pytest.mark.slow
def test_a_hung_provider_does_not_starve_other_tenants(live_server):
    server = live_server(OPENAI_TIMEOUT="4")
    other_key = key_on(server.env["DATABASE_URL"], tenant="other", name="other")
    with Listener("hung") as hung:
        credentials = [server.request("POST", "/credentials", {
            "name": f"hung {i}", "provider": "openai_compatible", "base_url": hung.base_url,
            "api_key": "k"}).body["id"]
            for i in range(40)]
        results = {}

        def ask(credential_id):
            results[credential_id] = server.request("GET", f"/openai/get_models?credential={credential_id}",
                                                    timeout=30)

        threads = [threading.Thread(target=ask, args=(c,)) for c in credentials]
        for thread in threads:
            thread.start()
        while len(hung.requests) < 40:
            time.sleep(0.05)
        other = server.request("GET", "/assistants", headers={"Authorization": f"Bearer {other_key}"},
                               timeout=10)
        assert other.status == 200 and other.seconds < 2, other
        for thread in threads:
            thread.join()
    assert {reply.status for reply in results.values()} == {504}


def test_a_dripping_provider_is_cut_off_at_the_whole_call_deadline(make_app_with):
    with Listener("drip", drip_seconds=0.2) as drip:
        client, auth = make_app_with(OPENAI_TIMEOUT=1.0, OPENAI_MAX_RETRIES=0, STATUS_TIMEOUT=0.5)
        credential = credential_on(client, auth, drip.base_url)
        started = time.monotonic()
        models = client.get("/openai/get_models", headers=auth, query_string={"credential": credential})
        assert models.status_code == 504 and time.monotonic() - started < 3
        assert models.json["message"] == f"the provider at {drip.base_url} did not answer within 1 s"
        agent = client.post(AGENTS, headers=auth, json={"model": "m", "credential": credential})
        assert agent.status_code == 201 and agent.json["status"] == "UNAVAILABLE"


def test_a_reply_over_the_size_cap_is_a_502(make_app_with):
    ids = [{"id": f"model-{i:07d}-" + "x" * 80} for i in range(20_000)]  # ~2 MB
    with Listener("big", body=json.dumps({"object": "list", "data": ids}).encode()) as big:
        client, auth = make_app_with(PROVIDER_MAX_REPLY_BYTES=1_000_000, OPENAI_MAX_RETRIES=0)
        credential = credential_on(client, auth, big.base_url)
        models = client.get("/openai/get_models", headers=auth, query_string={"credential": credential})
        assert models.status_code == 502
        assert models.json["message"] == (f"the reply of the provider at {big.base_url} for the model list "
                                          "was larger than 1000000 bytes")
        roomy, roomy_auth = make_app_with(PROVIDER_MAX_REPLY_BYTES=4_000_000)
        listed = roomy.get("/openai/get_models", headers=roomy_auth,
                           query_string={"credential": credential_on(roomy, roomy_auth, big.base_url)})
        assert listed.status_code == 200 and len(listed.json["models"]) == 2000  # at most MAX_MODELS


def test_a_list_asks_at_most_32_providers(client, auth, fake):
    for _ in range(36):
        assistant_on(client, auth, credential_on(client, auth, fake.base_url))
    listed = client.get(AGENTS, headers=auth, query_string={"limit": 100}).json["data"]
    assert len(fake.requests_to("/models")) == 32
    unchecked = [agent for agent in listed if agent["status_errors"][:1] and
                 agent["status_errors"][0].startswith("Not checked")]
    assert len(unchecked) == 4 and len(listed) == 36


def test_the_answer_cache_is_bounded_and_forgets():
    clock = [0.0]
    store = MemoryStore(max_bytes=1000, clock=lambda: clock[0])
    for i in range(50):
        store.set(f"k{i}", "v" * 100, ttl=60)
    assert store.size <= 1000 and len(store) == 10 and store.get("k49") and store.get("k0") is None
    clock[0] = 61
    store.set("fresh", "v", ttl=60)
    assert len(store) == 1 and store.size == 1  # the expired went with the next write
    store.set("huge", "v" * 2000, ttl=60)
    assert store.get("huge") is None
    uncached = MemoryStore(max_bytes=1000, clock=lambda: clock[0])
    uncached.set("at-once", "v", ttl=0)  # MODELS_CACHE_TTL=0: nothing is kept
    assert uncached.get("at-once") is None and len(uncached) == 0 and uncached.size == 0
    locks = KeyedLocks()
    with locks.hold("a"):
        assert len(locks) == 1
    assert len(locks) == 0


# ---------------------------------------------------------------------------- remote assistants


def test_a_remote_assistant_is_adopted_only_by_its_tenant(make_app_with, fake):
    client, auth = make_app_with(OPENAI_API="assistants")
    other = {"Authorization": f"Bearer {make_key(client.application, tenant='other')}"}
    mine = assistant_on(client, auth)
    remote_id = mine["details"]["id"]
    stolen = client.post("/assistants", headers=other, json={"details": {"model": "gpt-4o", "id": remote_id}})
    assert stolen.status_code == 422
    assert stolen.json["errors"]["json"]["details"] == [
        f"details.id {remote_id!r}: no remote assistant of this tenant has that id."]
    assert fake.assistants[remote_id]["model"] == "gpt-4"
    theirs = assistant_on(client, other)
    took = client.put(f"/assistants/{theirs['id']}", headers=other,
                      json={"details": {"model": "x", "id": remote_id}})
    assert took.status_code == 422 and fake.assistants[remote_id]["model"] == "gpt-4"

    # Its own tenant may re-link it (after deleting the local row only).
    assert client.delete(f"/assistants/{mine['id']}", headers=auth).status_code == 200
    again = client.post("/assistants", headers=auth, json={"details": {"model": "gpt-4o", "id": remote_id}})
    assert again.status_code == 200 and fake.assistants[remote_id]["model"] == "gpt-4o"
    # One made outside this service (no metadata): not through the shared provider, but through
    # a credential of the tenant's own, a tenant adopts whatever its provider account has.
    outside_id = openai.OpenAI(base_url=fake.base_url,
                               api_key="sk-own").beta.assistants.create(model="gpt-4").id
    refused = client.post("/assistants", headers=other,
                          json={"details": {"model": "gpt-4", "id": outside_id}})
    assert refused.status_code == 422
    own = credential_on(client, other, fake.base_url, api="assistants")
    adopted = client.post("/assistants", headers=other, json={"details": {"model": "gpt-4", "id": outside_id},
                                                              "credential": own})
    assert adopted.status_code == 200


# ---------------------------------------------------------------------------- small guards


@pytest.mark.parametrize("field, value", [("api_key", "sk-abc\n"), ("api_key", "sk-ab c"),
                                          ("api_key", "sk-é"), ("organization", "org\r\nX-Injected: 1"),
                                          ("api_version", "v\t1")])
def test_header_values_with_control_or_non_ascii_characters_are_refused(client, auth, fake, field, value):
    body = {"name": "p", "provider": "openai_compatible", "base_url": fake.base_url, "api_key": "sk-k",
            field: value}
    created = client.post("/credentials", headers=auth, json=body)
    assert created.status_code == 422 and list(created.json["errors"]["json"]) == [field]
    existing = credential_on(client, auth, fake.base_url)
    updated = client.put(f"/credentials/{existing}", headers=auth, json={field: value})
    assert updated.status_code == 422 and list(updated.json["errors"]["json"]) == [field]


def test_the_key_is_scrubbed_in_every_spelling_and_before_the_cut(caplog):
    key = "sk-secret-0123456789\n"
    said = scrub("Illegal header value b'Bearer sk-secret-0123456789\\n' / " + repr(key), key)
    assert "0123456789" not in said
    conn = Connection("c", "chat_completions", "sk-" + "z" * 40, base_url="http://p/v1")

    class Failure(Exception):  # a provider echoing the key just where the log cuts its text
        body = "x" * 495 + " " + "sk-" + "z" * 40

    with caplog.at_level(logging.WARNING, logger="assistants_app.openai_adapter.errors"):
        log_failure(Failure(), conn, "the model list", with_text=True)
    detail = caplog.records[-1].fields["detail"]
    assert len(detail) == 500 and "sk-z" not in detail


@pytest.mark.parametrize("given, kept", [("abc-123.X_y", True), ("a" * 64, True), ("a" * 65, False),
                                         ("bad id", False), ("x\u00e9", False), ("", False)])
def test_x_request_id_is_kept_only_when_harmless(client, given, kept):
    response = client.get("/health", headers={"X-Request-Id": given})
    assert (response.headers["X-Request-Id"] == given) is kept
    assert len(response.headers["X-Request-Id"]) <= 64


def test_the_sqlite_file_and_instance_folder_are_private(tmp_path):
    with app_on(f"sqlite:///{tmp_path}/private.sqlite3") as app:
        assert stat.S_IMODE(os.stat(tmp_path / "private.sqlite3").st_mode) == 0o600
        assert stat.S_IMODE(os.stat(app.instance_path).st_mode) == 0o700


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


@pytest.mark.slow
def test_worker_memory_stays_flat_after_repeated_huge_model_lists(live_server):
    # Ten ~5 MB model lists, each on its own credential: a worker used to keep every one of
    # them (and a lock per key) for good.
    server = live_server(workers=1)
    models = [{"id": f"model-{i:06d}-" + "x" * 180, "object": "model"} for i in range(22_000)]
    body = json.dumps({"object": "list", "data": models}).encode()
    assert 4_000_000 < len(body) < 8 * 1024 * 1024
    with Listener("big", body=body) as big:
        credentials = [server.request("POST", "/credentials", {
            "name": f"big {i}", "provider": "openai_compatible", "base_url": big.base_url,
            "api_key": "k"}).body["id"]
            for i in range(10)]
        [worker] = server.worker_pids()
        for i, credential in enumerate(credentials):
            listed = server.request("GET", f"/openai/get_models?credential={credential}", timeout=60)
            assert listed.status == 200 and len(listed.body["models"]) == 2000, listed
            if i == 2:
                warm = rss_mb(worker)
        grown = rss_mb(worker) - warm
    assert grown < 20, f"worker RSS grew {grown:.0f} MB after warm-up"
