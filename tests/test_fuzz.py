"""Fuzzing from our own OpenAPI document: schemathesis generates valid and invalid requests
for every operation of /openapi.json and sends them with a valid key through the WSGI app.
No 500, no undocumented status, every response body matches its documented schema.

Deterministic (hypothesis derandomize, no example database) and bounded (MAX_EXAMPLES per
strategy); the provider is the loopback fake (app_config's OPENAI_BASE_URL)."""
import collections

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from .helpers import spec_and_routes, wait_for_runs

POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
MAX_EXAMPLES = 12
# The valid key is sent with every case (the 401s are tests/test_auth_everywhere.py's job). A dict, and
# a Config per test: a Config keeps every operation it configured, and with it that test's app.
CONFIG = {"generation": {"with-security-parameters": False}}
# Body fields that name an object: with a real id half the time, so the fuzzer gets past the 404.
ID_FIELDS = ("agent_id", "thread_id", "credential", "assistant_id")


# (method, path) of every operation the document lists.
OPERATIONS = [(method.upper(), path) for path, item in spec_and_routes()[0]["paths"].items()
              for method in item if method in ("get", "put", "post", "delete", "patch")]


@pytest.fixture
def app_config(app_config):
    # The fuzzer sends a few hundred requests with one key: keep the rate limit out of its way.
    return dict(app_config, RATELIMIT_DEFAULT="100000 per minute", OPENAI_TIMEOUT=3.0)


def seed(client, auth, fake) -> dict:
    """Real objects of the key's tenant, so the fuzzer also reaches past 'not found'."""
    credential = client.post("/credentials", headers=auth, json={
        "name": "fuzz", "provider": "openai_compatible", "base_url": fake.base_url,
        "api": "chat_completions", "api_key": "sk-fuzz-provider-key"}).json
    assistant = client.post("/assistants", headers=auth, json={
        "details": {"model": "gpt-4", "instructions": "Be brief."}, "credential": credential["id"]}).json
    thread = client.post("/openai/initialize", headers=auth, json={"agent_id": assistant["id"]}).json
    return {"agent_id": assistant["id"], "assistant_id": assistant["id"], "thread_id": thread["thread_id"],
            "credential": credential["id"], "credential_id": credential["id"]}


def seed_v2(client, auth, app, ids: dict) -> dict:
    """The Assistants API v2's objects (/v1): a thread with a message, a finished run, its step."""
    v2_thread = client.post("/v1/threads", headers=auth, json={
        "messages": [{"role": "user", "content": "hi"}]}).json["id"]
    run = client.post(f"/v1/threads/{v2_thread}/runs", headers=auth, json={"assistant_id": ids["assistant_id"]}).json
    wait_for_runs(app)
    runs = f"/v1/threads/{v2_thread}/runs/{run['id']}"
    return {**ids, "thread_id": v2_thread, "run_id": run["id"],
            "message_id": client.get(f"/v1/threads/{v2_thread}/messages", headers=auth).json["first_id"],
            "step_id": client.get(f"{runs}/steps", headers=auth).json["first_id"]}


def with_real_ids(ids: dict):
    def replace(pair):
        case, use_real = pair
        if use_real and isinstance(case.body, dict):
            for name in ID_FIELDS:
                if name in case.body:
                    case.body[name] = ids[name]
        return case
    return replace


# Any Unicode but NUL (refused with 422 everywhere), in a chat turn that reaches the fake provider.
TURN_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=40)
CHAT_TURNS = {
    "/openai/chat": lambda ids, text, stream: {
        "agent_id": ids["agent_id"], "thread_id": ids["thread_id"], "user_input": text, "stream": stream},
    "/chat/completions": lambda ids, text, stream: {
        "messages": [{"role": "user", "content": text}], "stream": stream, "create_session": not stream},
}


def pairs(first, second):
    """(a, b) from two strategies. Not st.tuples: hypothesis keeps the last 1,024 strategies it built
    for the whole session, and one built from an operation's strategy keeps that test's app alive."""
    return first.flatmap(lambda a: second.map(lambda b: (a, b)))


def set_body(case, body):
    case.body = body
    return case


def strategies(operation, ids: dict) -> list[tuple[GenerationMode, st.SearchStrategy]]:
    """Valid and invalid requests; where the path names an object, also with a real one."""
    real_path = {p.name: ids[p.name] for p in operation.path_parameters if p.name in ids}
    found = [(POSITIVE, pairs(operation.as_strategy(), st.booleans()).map(with_real_ids(ids))),
             (NEGATIVE, operation.as_strategy(generation_mode=NEGATIVE))]
    if real_path:
        found += [(mode, operation.as_strategy(generation_mode=mode, path_parameters=real_path))
                  for mode in (POSITIVE, NEGATIVE)]
    for suffix, make_body in CHAT_TURNS.items():
        if operation.path.endswith(suffix):  # cross-field rules keep most generated turns from the provider
            turns = pairs(operation.as_strategy(path_parameters=real_path),
                          st.tuples(TURN_TEXT, st.booleans()))
            turns = turns.map(lambda t, make=make_body: set_body(t[0], make(ids, *t[1])))
            found.append((POSITIVE, turns))
    return found


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation(app, client, auth, fake, method, path):
    config = schemathesis.Config.from_dict(CONFIG)
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app, config=config)
    operation = schema[path][method]
    label = f"{method} {path}"
    cases, statuses = 0, collections.Counter()
    ids = seed(client, auth, fake)
    if path.startswith("/v1/"):
        ids = seed_v2(client, auth, app, ids)
    for mode, strategy in strategies(operation, ids):
        @settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None,
                  phases=[Phase.explicit, Phase.generate, Phase.shrink],
                  suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def run(case):
            nonlocal cases
            cases += 1
            response = case.call(headers=auth)
            statuses[response.status_code] += 1
            case.validate_response(response, checks=CHECKS, headers=auth)

        try:
            run()
        except Unsatisfiable:  # nothing to make invalid (GET /health has no parameters)
            assert mode is NEGATIVE
    wait_for_runs(app)  # the runs it started, before the database is emptied
    print(f"fuzzed {label}: {cases} cases, statuses {dict(sorted(statuses.items()))}")


def test_every_operation_documents_its_statuses_without_a_catch_all(client):
    """status_code_conformance is void for an operation with a `default` response."""
    spec = client.get("/openapi.json").json
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert "default" not in operation["responses"], (method, path)
            if operation.get("security") != []:
                assert {"401", "429"} <= set(operation["responses"]), (method, path)
            if "requestBody" in operation:
                assert "413" in operation["responses"], (method, path)
