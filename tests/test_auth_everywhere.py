"""Auth on every route, generated from app.url_map so that a new route is covered (or fails
here) without anyone remembering to add it:

- every route but the public ones answers 401 + WWW-Authenticate: Bearer without a key,
  with a wrong key and with a revoked one;
- no route lets a key of another tenant read, change, chat in or delete a tenant's
  assistants, credentials, threads or sessions: it answers exactly what it answers for an id
  that does not exist (404, or the 422 of "no such credential"), reveals nothing of the
  object, calls no provider, and changes nothing."""
import io
import re
import uuid

import pytest
from sqlalchemy import select

from assistants_app.extensions import db
from assistants_app.models import ApiKey

from .helpers import (SEED_003, make_assistant, make_conversation, make_credential, make_key, make_thread,
                      make_v2_thread, routes, wait_for_runs)


@pytest.fixture
def app_config(app_config):
    # Every route is tried with wrong keys from one address: more than AUTH_FAILURE_LIMIT allows
    # (tests/test_auth_failures.py tests that limit).
    return dict(app_config, AUTH_FAILURE_LIMIT="100000 per minute")


# The routes anyone may call (DESIGN: health, the OpenAPI document and its UI, the playground page).
PUBLIC_RULES = {"/health", "/openapi.json", "/docs", "/docs/assets/<path:filename>", "/",
                "/playground/<path:asset>"}
ARGUMENT = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")


def fill(rule: str, values: dict | None = None) -> str:
    """A URL for the rule: the named objects' ids, or a placeholder for any other argument."""
    return ARGUMENT.sub(lambda m: (values or {}).get(m.group(1), "some-id"), rule)


def assert_401(response, what):
    assert response.status_code == 401, (what, response.status_code, response.get_data(as_text=True)[:200])
    assert response.headers["WWW-Authenticate"].startswith("Bearer"), what
    if " /v1/" in what:  # the Assistants API v2 answers in OpenAI's shape
        assert response.json["error"]["code"] == "invalid_api_key", what
        return
    assert response.json["code"] == 401 and response.json["status"] == "Unauthorized", what


def test_every_route_but_the_public_ones_needs_a_valid_key(app, client, api_key):
    revoked_key = make_key(app, name="to-revoke")
    revoked = {"Authorization": f"Bearer {revoked_key}"}
    assert client.get("/assistants", headers=revoked).status_code == 200  # valid (and cached) first
    with app.app_context():
        row = db.session.scalar(select(ApiKey).where(ApiKey.name == "to-revoke"))
    result = app.test_cli_runner().invoke(args=["api-keys", "revoke", str(row.id)])
    assert result.exit_code == 0, result.output

    refusals = {
        "no key": {},
        "wrong key": {"Authorization": "Bearer sk-asst-" + "x" * 43},
        "revoked key": revoked,
        "not bearer": {"Authorization": f"Basic {api_key}"},
    }
    checked = 0
    for rule, method in routes(app):
        if rule in PUBLIC_RULES:
            continue
        for name, headers in refusals.items():
            body = {} if method != "GET" else None
            response = client.open(fill(rule), method=method, headers=headers, json=body)
            assert_401(response, f"{method} {rule} with {name}")
            checked += 1
    assert checked >= 4 * 20  # the routes are there: a broken url_map would pass vacuously


def test_public_routes_answer_without_a_key(app, client):
    public = {rule for rule, _ in routes(app)} & PUBLIC_RULES
    assert public == PUBLIC_RULES  # they exist; if one moves, this list must follow
    for rule in PUBLIC_RULES:
        response = client.get(fill(rule, {"filename": "swagger-ui.css", "asset": "playground.css"}))
        assert response.status_code == 200, rule


# --- Tenants -------------------------------------------------------------------------------

class Tenant:
    """One tenant's objects: a credential, an assistant using it, a seed-004 thread with one
    turn, and a seed-003 session with one turn."""

    def __init__(self, client, headers, fake, name, app):
        self.headers = headers
        self.name = name
        self.credential = make_credential(client, headers, name=f"{name}-credential-name",
                                          base_url=fake.base_url, api_key=f"sk-{name}-provider-key")["id"]
        assistant = make_assistant(client, headers, self.credential, name=f"{name}-assistant-name",
                                   instructions=f"{name} instructions")
        self.assistant, self.details_id = assistant["id"], assistant["details"]["id"]
        self.thread = make_thread(client, headers, self.assistant)
        turn = {"agent_id": self.assistant, "thread_id": self.thread, "user_input": f"{name} secret question"}
        assert client.post("/openai/chat", headers=headers, json=turn).status_code == 200
        session = client.post(f"{SEED_003}/agents/{self.assistant}/chat/completions", headers=headers, json={
            "messages": [{"role": "user", "content": f"{name} session question"}], "create_session": True})
        assert session.status_code == 200, session.json
        self.session = session.json["session_id"]
        # The Assistants API v2: a thread with a message, a run (a tool call answered) and its steps.
        self.v2_thread = make_v2_thread(client, headers, f"{name} v2 question")["id"]
        fake.queue_tool_calls([{"name": "lookup", "arguments": "{}"}])
        tools = [{"type": "function", "function": {"name": "lookup"}}]
        self.v2_run = client.post(f"/v1/threads/{self.v2_thread}/runs", headers=headers,
                                  json={"assistant_id": self.details_id, "tools": tools}).json["id"]
        wait_for_runs(app)
        run_url = f"/v1/threads/{self.v2_thread}/runs/{self.v2_run}"
        run = client.get(run_url, headers=headers).json
        call = run["required_action"]["submit_tool_outputs"]["tool_calls"][0]
        client.post(f"{run_url}/submit_tool_outputs", headers=headers,
                    json={"tool_outputs": [{"tool_call_id": call["id"], "output": f"{name} tool output"}]})
        wait_for_runs(app)
        self.v2_message = client.get(f"/v1/threads/{self.v2_thread}/messages",
                                     headers=headers).json["first_id"]
        self.v2_step = client.get(f"{run_url}/steps", headers=headers).json["last_id"]
        # The Responses API: a conversation with an item, and a response in it.
        self.conversation = make_conversation(client, headers, {
            "type": "message", "role": "user", "content": f"{name} conversation item"})["id"]
        self.response = client.post("/v1/responses", headers=headers, json={
            "model": "gpt-4", "input": f"{name} response question",
            "conversation": self.conversation}).json["id"]
        self.item = client.get(f"/v1/conversations/{self.conversation}/items",
                               headers=headers).json["last_id"]
        # A file in a vector store (embedded with the tenant's credential), added by a batch.
        self.file = client.post("/v1/files", headers=headers, data={
            "purpose": "assistants",
            "file": (io.BytesIO(f"{name} file text".encode()), f"{name}-file.txt")}).json["id"]
        self.store = client.post("/v1/vector_stores", headers=headers, json={
            "name": f"{name}-store-name", "credential": self.credential}).json["id"]
        self.batch = client.post(f"/v1/vector_stores/{self.store}/file_batches", headers=headers,
                                 json={"file_ids": [self.file]}).json["id"]
        wait_for_runs(app)

    def ids(self) -> dict:
        return {"assistant": self.assistant, "details_id": self.details_id, "credential": self.credential,
                "thread": self.thread, "session": self.session, "v2_thread": self.v2_thread,
                "v2_run": self.v2_run, "v2_message": self.v2_message, "v2_step": self.v2_step,
                "conversation": self.conversation, "response": self.response, "item": self.item,
                "file": self.file, "store": self.store, "batch": self.batch}

    def private_strings(self) -> list[str]:
        return [f"{self.name}-credential-name", f"{self.name}-assistant-name", f"{self.name} instructions",
                f"{self.name} secret question", f"{self.name} session question", f"{self.name}-provider-key",
                f"{self.name} v2 question", f"{self.name} tool output", f"{self.name} conversation item",
                f"{self.name} response question", f"{self.name} file text", f"{self.name}-file.txt",
                f"{self.name}-store-name"]


def nonexistent_ids() -> dict:
    return {"assistant": str(uuid.uuid4()), "details_id": "asst_" + uuid.uuid4().hex,
            "credential": str(uuid.uuid4()), "thread": "thread_" + uuid.uuid4().hex,
            "session": "thread_" + uuid.uuid4().hex, "v2_thread": "thread_" + uuid.uuid4().hex,
            "v2_run": "run_" + uuid.uuid4().hex, "v2_message": "msg_" + uuid.uuid4().hex,
            "v2_step": "step_" + uuid.uuid4().hex, "conversation": "conv_" + uuid.uuid4().hex,
            "response": "resp_" + uuid.uuid4().hex, "item": "msg_" + uuid.uuid4().hex,
            "file": "file-" + uuid.uuid4().hex, "store": "vs_" + uuid.uuid4().hex,
            "batch": "vsfb_" + uuid.uuid4().hex}


# In a probe, "victim:<object>" is the victim's id of that object, "own:<object>" the
# intruder's own: a probe is sent once with the victim's ids and once with made-up ones.
def probe(path: dict | None = None, json=None, query=None, expect=404):
    return {"path": path or {}, "json": json, "query": query, "expect": expect}


def by_id(obj: str, json=None, expect=404):
    """The rule's one path argument, whatever its name, is the victim's object."""
    return probe({"*": f"victim:{obj}"}, json, None, expect)


LIST = "list"      # lists only the caller's own objects
NO_ID = "no id"    # names no object: nothing of another tenant to reach
CHAT = {"messages": [{"role": "user", "content": "hi"}]}
NOT_YOURS = 422  # naming a credential that is not yours: "no such credential"
AGENT_ROUTES = {
    "": {"GET": LIST,
         "POST": [probe(json={"model": "gpt-4", "credential": "victim:credential"}, expect=NOT_YOURS)]},
    "/<agent_id>": {
        "GET": [by_id("assistant")],
        "POST": [by_id("assistant", json={"name": "taken"}),
                 probe({"*": "own:assistant"}, {"credential": "victim:credential"}, expect=NOT_YOURS)],
        "DELETE": [by_id("assistant")],
    },
    "/<agent_id>/chat/completions": {
        "POST": [by_id("assistant", json=CHAT),
                 probe({"*": "own:assistant"}, {**CHAT, "store_in_session": "victim:session"})],
    },
}
TURN = {"user_input": "hi"}
V2_THREAD = {"*": "victim:v2_thread"}


def v2_run(json=None, **own):
    """Probes of a route under a v2 run: the victim's thread and run, and the intruder's own
    thread (own=...: and more of its own objects) with the victim's run."""
    victim = {"thread_id": "victim:v2_thread", "run_id": "victim:v2_run", "step_id": "victim:v2_step"}
    return [probe(victim, json), probe({**victim, "thread_id": "own:v2_thread", **own}, json)]


def v2_message(json=None):
    return [probe({"thread_id": "victim:v2_thread", "message_id": "victim:v2_message"}, json),
            probe({"thread_id": "own:v2_thread", "message_id": "victim:v2_message"}, json)]


def in_store(obj: str, json=None):
    """Probes of a route under a vector store: the victim's store and object, and the intruder's own
    store with the victim's object."""
    return [probe({"store_id": "victim:store", obj + "_id": f"victim:{obj}"}, json),
            probe({"store_id": "own:store", obj + "_id": f"victim:{obj}"}, json)]


SEARCHES_VICTIMS = {"file_search": {"vector_store_ids": ["victim:store"]}}
RETRIEVAL_ROUTES = {
    "/v1/files": {"GET": LIST, "POST": NO_ID},
    "/v1/files/<file_id>": {"GET": [by_id("file")], "DELETE": [by_id("file")]},
    "/v1/files/<file_id>/content": {"GET": [by_id("file")]},
    "/v1/vector_stores": {"GET": LIST, "POST": [probe(json={"file_ids": ["victim:file"]}),
                                                probe(json={"credential": "victim:credential"}, expect=400)]},
    "/v1/vector_stores/<store_id>": {"GET": [by_id("store")], "DELETE": [by_id("store")],
                                     "POST": [by_id("store", json={"name": "taken"})]},
    "/v1/vector_stores/<store_id>/search": {"POST": [by_id("store", json={"query": "file text"})]},
    "/v1/vector_stores/<store_id>/files": {
        "GET": [by_id("store")],
        "POST": [by_id("store", json={"file_id": "own:file"}),
                 probe({"*": "own:store"}, {"file_id": "victim:file"})]},
    "/v1/vector_stores/<store_id>/files/<file_id>": {"GET": in_store("file"), "DELETE": in_store("file"),
                                                     "POST": in_store("file", {"attributes": {"a": "b"}})},
    "/v1/vector_stores/<store_id>/files/<file_id>/content": {"GET": in_store("file")},
    "/v1/vector_stores/<store_id>/file_batches": {
        "POST": [by_id("store", json={"file_ids": ["own:file"]}),
                 probe({"*": "own:store"}, {"file_ids": ["victim:file"]})]},
    "/v1/vector_stores/<store_id>/file_batches/<batch_id>": {"GET": in_store("batch")},
    "/v1/vector_stores/<store_id>/file_batches/<batch_id>/cancel": {"POST": in_store("batch")},
    "/v1/vector_stores/<store_id>/file_batches/<batch_id>/files": {"GET": in_store("batch")},
}
V2_ROUTES = {
    "/v1/assistants": {"GET": LIST,
                       "POST": [probe(json={"model": "gpt-4", "tool_resources": SEARCHES_VICTIMS})]},
    "/v1/assistants/<assistant_id>": {"GET": [by_id("details_id"), by_id("assistant")],
                                      "POST": [by_id("details_id", json={"name": "taken"}),
                                               probe({"*": "own:details_id"},
                                                     {"tool_resources": SEARCHES_VICTIMS})],
                                      "DELETE": [by_id("details_id")]},
    "/v1/threads": {"POST": [probe(json={"tool_resources": SEARCHES_VICTIMS})]},
    # The other APIs' threads are not v2 threads, the caller's own included.
    "/v1/threads/<thread_id>": {"GET": [by_id("v2_thread"), by_id("thread"), probe({"*": "own:thread"})],
                                "POST": [by_id("v2_thread", json={"metadata": {"a": "b"}}),
                                         probe({"*": "own:v2_thread"}, {"tool_resources": SEARCHES_VICTIMS})],
                                "DELETE": [by_id("v2_thread"), by_id("session")]},
    "/v1/threads/<thread_id>/messages": {"GET": [by_id("v2_thread")],
                                         "POST": [by_id("v2_thread", json={"role": "user", "content": "x"})]},
    "/v1/threads/<thread_id>/messages/<message_id>": {"GET": v2_message(),
                                                      "POST": v2_message({"metadata": {}}),
                                                      "DELETE": v2_message()},
    "/v1/threads/<thread_id>/runs": {
        "GET": [by_id("v2_thread")],
        "POST": [probe(V2_THREAD, {"assistant_id": "own:details_id"}),
                 probe({"*": "own:v2_thread"}, {"assistant_id": "victim:details_id"})]},
    "/v1/threads/runs": {"POST": [probe(json={"assistant_id": "victim:details_id"}),
                                  probe(json={"assistant_id": "victim:assistant"})]},
    "/v1/threads/<thread_id>/runs/<run_id>": {"GET": v2_run(), "POST": v2_run({"metadata": {"a": "b"}})},
    "/v1/threads/<thread_id>/runs/<run_id>/cancel": {"POST": v2_run()},
    "/v1/threads/<thread_id>/runs/<run_id>/submit_tool_outputs": {
        "POST": v2_run({"tool_outputs": [{"tool_call_id": "call_x", "output": "x"}]})},
    "/v1/threads/<thread_id>/runs/<run_id>/steps": {"GET": v2_run()},
    "/v1/threads/<thread_id>/runs/<run_id>/steps/<step_id>": {"GET": v2_run()},
    # The tenant's own credentials' models (owned_by names the credential), never another's.
    "/v1/models": {"GET": LIST},
    "/v1/models/<path:model_id>": {"GET": NO_ID},  # a provider's model: test_v2_models.py checks the tenants
}
RESPONSE = {"model": "gpt-4", "input": "hi"}
CONVERSATION_ITEM = [probe({"conversation_id": "victim:conversation", "item_id": "victim:item"}),
                     probe({"conversation_id": "own:conversation", "item_id": "victim:item"})]
RESPONSES_ROUTES = {
    "/v1/responses": {"POST": [probe(json={**RESPONSE, "previous_response_id": "victim:response"}),
                               probe(json={**RESPONSE, "conversation": "victim:conversation"}),
                               probe(json={"input": "hi", "prompt": {"id": "victim:details_id"}}),
                               probe(json={"input": "hi", "prompt": {"id": "victim:assistant"}})]},
    "/v1/responses/input_tokens": {"POST": [probe(json={**RESPONSE,
                                                        "previous_response_id": "victim:response"}),
                                            probe(json={**RESPONSE, "conversation": "victim:conversation"})]},
    "/v1/responses/compact": {"POST": [probe(json={**RESPONSE, "previous_response_id": "victim:response"})]},
    "/v1/responses/<response_id>": {"GET": [by_id("response")], "DELETE": [by_id("response")]},
    "/v1/responses/<response_id>/cancel": {"POST": [by_id("response")]},
    "/v1/responses/<response_id>/input_items": {"GET": [by_id("response")]},
    "/v1/conversations": {"POST": NO_ID},
    # A conversation is not another API's thread, the caller's own included.
    "/v1/conversations/<conversation_id>": {"GET": [by_id("conversation"), probe({"*": "own:v2_thread"})],
                                            "POST": [by_id("conversation", json={"metadata": {"a": "b"}})],
                                            "DELETE": [by_id("conversation")]},
    "/v1/conversations/<conversation_id>/items": {
        "GET": [by_id("conversation")],
        "POST": [by_id("conversation",
                       json={"items": [{"type": "message", "role": "user", "content": "x"}]})]},
    "/v1/conversations/<conversation_id>/items/<item_id>": {"GET": CONVERSATION_ITEM,
                                                            "DELETE": CONVERSATION_ITEM},
}
# How to reach a tenant's objects through each route. Keyed by rule: a rule missing here
# fails the test, so every new route gets classified.
CROSS_TENANT = {
    "/static/<path:filename>": {"GET": NO_ID},
    "/metrics": {"GET": NO_ID},  # the operator's counters: no tenant's key opens it (tests/test_metrics.py)
    "/usage": {"GET": LIST},
    "/credentials": {"GET": LIST, "POST": NO_ID},
    "/credentials/<credential_id>": {
        "GET": [by_id("credential")],
        "PUT": [by_id("credential", json={"name": "taken", "api_key": "sk-replaced"})],
        "DELETE": [by_id("credential")],
    },
    "/assistants": {
        "GET": LIST,
        "POST": [probe(json={"details": {"model": "gpt-4"}, "credential": "victim:credential"},
                       expect=NOT_YOURS)],
    },
    "/assistants/<assistant_id>": {
        "GET": [by_id("assistant")],
        "PUT": [by_id("assistant", json={"details": {"model": "taken"}}),
                probe({"*": "own:assistant"}, {"credential": "victim:credential"}, expect=NOT_YOURS)],
        "DELETE": [by_id("assistant")],
    },
    **{f"{SEED_003}/{collection}{suffix}": methods
       for collection in ("agents", "assistants") for suffix, methods in AGENT_ROUTES.items()},
    "/openai/initialize": {"POST": [probe(json={"agent_id": "victim:assistant"}),
                                    probe(json={"agent_id": "victim:details_id"})]},
    "/openai/chat": {"POST": [
        probe(json={"agent_id": "victim:assistant", "thread_id": "victim:thread", **TURN}),
        probe(json={"agent_id": "own:assistant", "thread_id": "victim:thread", **TURN}),
        probe(json={"agent_id": "own:assistant", "thread_id": "victim:session", **TURN, "stream": True}),
    ]},
    "/openai/delete_agent": {"POST": [probe(json={"agent_id": "victim:assistant"}),
                                      probe(json={"agent_id": "victim:details_id"})]},
    "/openai/get_models": {"GET": [probe(query={"credential": "victim:credential"})]},
    "/openai/threads/<thread_id>": {"DELETE": [by_id("thread"), by_id("session")]},
    "/openai/threads/<thread_id>/messages": {"GET": [by_id("thread"), by_id("session")]},
    **V2_ROUTES,
    **RESPONSES_ROUTES,
    **RETRIEVAL_ROUTES,
}


def render(template, victim: dict, own: dict):
    """The template with "victim:<object>" and "own:<object>" replaced by those ids."""
    if isinstance(template, dict):
        return {key: render(value, victim, own) for key, value in template.items()}
    if isinstance(template, list):
        return [render(value, victim, own) for value in template]
    if isinstance(template, str) and template.startswith(("victim:", "own:")):
        whose, _, obj = template.partition(":")
        return (victim if whose == "victim" else own)[obj]
    return template


def send(client, headers, rule, method, probe_, victim: dict, own: dict):
    path = ARGUMENT.sub(lambda m: render(probe_["path"].get(m.group(1), probe_["path"].get("*", "some-id")),
                                         victim, own), rule)
    return client.open(path, method=method, headers=headers, json=render(probe_["json"], victim, own),
                       query_string=render(probe_["query"], victim, own))


def snapshot(client, tenant: Tenant) -> dict:
    """What the owner sees of its objects."""
    base = f"{SEED_003}/agents/{tenant.assistant}"
    agent = client.get(base, headers=tenant.headers).json
    return {
        "credential": client.get(f"/credentials/{tenant.credential}", headers=tenant.headers).json,
        "assistant": client.get(f"/assistants/{tenant.assistant}", headers=tenant.headers).json,
        "agent": {k: v for k, v in agent.items() if k not in ("status", "status_errors")},
        "thread": client.get(f"/openai/threads/{tenant.thread}/messages", headers=tenant.headers).json,
        "session": client.get(f"/openai/threads/{tenant.session}/messages", headers=tenant.headers).json,
        "v2_thread": client.get(f"/v1/threads/{tenant.v2_thread}", headers=tenant.headers).json,
        "v2_messages": client.get(f"/v1/threads/{tenant.v2_thread}/messages", headers=tenant.headers).json,
        "v2_run": client.get(f"/v1/threads/{tenant.v2_thread}/runs/{tenant.v2_run}",
                             headers=tenant.headers).json,
        "file": client.get(f"/v1/files/{tenant.file}/content", headers=tenant.headers).data,
        "store": client.get(f"/v1/vector_stores/{tenant.store}", headers=tenant.headers).json,
        "store_files": client.get(f"/v1/vector_stores/{tenant.store}/files", headers=tenant.headers).json,
        "batch": client.get(f"/v1/vector_stores/{tenant.store}/file_batches/{tenant.batch}",
                            headers=tenant.headers).json,
    }


def calls_with(fake, provider_key: str) -> list:
    return [r for r in fake.requests if provider_key in r.headers.get("authorization", "")]


def test_no_route_reaches_another_tenants_objects(app, client, auth, other_auth, fake):
    victim = Tenant(client, auth, fake, "alpha", app)
    intruder = Tenant(client, other_auth, fake, "bravo", app)
    before = snapshot(client, victim)
    victims_provider_calls = len(calls_with(fake, "sk-alpha-provider-key"))

    unknown = sorted({rule for rule, _ in routes(app)} - PUBLIC_RULES - set(CROSS_TENANT))
    assert not unknown, f"classify these routes in CROSS_TENANT: {unknown}"
    probes = 0
    for rule, method in routes(app):
        if rule in PUBLIC_RULES:
            continue
        assert method in CROSS_TENANT[rule], f"classify {method} {rule} in CROSS_TENANT"
        entry = CROSS_TENANT[rule][method]
        if entry == LIST:
            response = client.get(rule, headers=other_auth)
            assert response.status_code == 200
            listed = set(re.findall(r'"([^"]+)"', response.get_data(as_text=True)))
            assert not set(victim.ids().values()) & listed, rule
            continue
        if entry == NO_ID:
            continue
        for probe_ in entry:
            what = f"{method} {rule} {probe_}"
            missing = send(client, other_auth, rule, method, probe_, nonexistent_ids(), intruder.ids())
            response = send(client, other_auth, rule, method, probe_, victim.ids(), intruder.ids())
            assert response.status_code == probe_["expect"], (what, response.get_data(as_text=True)[:300])
            assert missing.status_code == response.status_code, what  # indistinguishable from nothing
            body = response.get_data(as_text=True)
            assert not [s for s in victim.private_strings() if s in body], what
            probes += 1

    assert probes >= 30
    assert len(calls_with(fake, "sk-alpha-provider-key")) == victims_provider_calls  # nor its provider
    assert snapshot(client, victim) == before    # and none changed anything
