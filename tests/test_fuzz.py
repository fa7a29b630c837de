"""Fuzzing from our own OpenAPI document: schemathesis generates valid and invalid requests
for every operation of /openapi.json and sends them with a valid key through the WSGI app, one
operation at a time, then in sequences that follow the links between operations (its stateful
phase). No 500, no undocumented status or content type, every response body (and every event of a
stream) matches its documented schema; in sequences, what a call made is found until deleted, and
what it deleted is not.

Deterministic (hypothesis derandomize, no example database) and bounded (MAX_EXAMPLES per
strategy, SCENARIOS of STEPS calls); the provider is the loopback fake (app_config's OPENAI_BASE_URL).
About 100 s of test time under make test's coverage, shared by its workers, 16 s of it the stateful
phase (the document is built once: building it takes the app most of a second)."""
import collections
import copy

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.engine import events
from schemathesis.checks import not_a_server_error
from schemathesis.openapi.checks import EnsureResourceAvailability
from schemathesis.specs.openapi.checks import (content_type_conformance, ensure_resource_availability,
                                               response_schema_conformance, status_code_conformance,
                                               use_after_free)

from .helpers import (AGENTS, ASSISTANTS, make_assistant, make_credential, make_thread, make_v2_thread,
                      spec_and_routes, wait_for_runs)

POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Calls that delete an object, besides a DELETE: the conversations API deletes an agent with a POST.
DELETING_POSTS = {"/openai/delete_agent"}


@schemathesis.check
def available_until_deleted(ctx, response, case):
    """schemathesis' ensure_resource_availability (what a POST made, the calls after it find), for an
    API whose rows are reached through several routes and ids: an assistant is one row at
    /assistants, /v1/assistants (by its asst_ id), under both mounts of the agents API and at
    /openai/delete_agent. The stock check knows only a DELETE of the same path as a deletion; here a
    deletion that succeeded earlier in the scenario, through any route, explains a 404."""
    try:
        return ensure_resource_availability(ctx, response, case)
    except EnsureResourceAvailability:
        parent = ctx.internals.find_parent(case_id=case.id)
        if parent is not None and parent.path.rstrip("/").endswith("}"):
            # A POST to an item's own URI is OpenAI's "modify": it creates nothing below the item. The
            # stock check counts it as a creation when the next path is longer, and links inferred from
            # its `id` feed that id to a sub-resource's parameter (a vector store's id as a file_id).
            return None
        recorder = ctx.internals.recorder
        for prior in recorder.find_all_cases():
            answer = recorder.find_response(case_id=prior.id)
            deletes = prior.operation.method.upper() == "DELETE" or prior.operation.path in DELETING_POSTS
            if prior.id != case.id and deletes and answer is not None and 200 <= answer.status_code < 300:
                return None
        raise


# In sequences, CHECKS and: what one call made, the next finds (until it is deleted); what one deleted,
# the next does not find.
STATEFUL_CHECKS = {check.__name__: {"enabled": True}
                   for check in (*CHECKS, use_after_free, available_until_deleted)}
SCENARIOS, STEPS = 150, 10  # the stateful phase: sequences, and calls in each
MAX_EXAMPLES = 12
# The valid key is sent with every case (the 401s are tests/test_auth_everywhere.py's job). A dict, and
# a Config per test: a Config keeps every operation it configured, and with it that test's app.
# No cache of schemathesis' own on disk (.schemathesis/ in the working directory).
CONFIG = {"generation": {"with-security-parameters": False}, "cache": {"enabled": False}}
# Body fields that name an object: with a real id half the time, so the fuzzer gets past the 404.
ID_FIELDS = ("agent_id", "thread_id", "credential", "assistant_id")


# The document, read once (building it takes the app most of a second), and (method, path) of its operations.
DOCUMENT = spec_and_routes()[0]
OPERATIONS = [(method.upper(), path) for path, item in DOCUMENT["paths"].items()
              for method in item if method in ("get", "put", "post", "delete", "patch")]


def loaded(app, config: dict = CONFIG):
    """The document as schemathesis reads it, calling ``app`` (a copy of it: schemathesis changes it)."""
    config = schemathesis.Config.from_dict(config)
    schema = schemathesis.openapi.from_dict(copy.deepcopy(DOCUMENT), config=config)
    schema.app = app
    return schema


@pytest.fixture
def app_config(app_config):
    # The fuzzer sends a few hundred requests with one key: keep the rate limit out of its way.
    return dict(app_config, RATELIMIT_DEFAULT="100000 per minute", OPENAI_TIMEOUT=3.0)


def seed(client, auth, fake) -> dict:
    """Real objects of the key's tenant, so the fuzzer also reaches past 'not found'."""
    credential = make_credential(client, auth, name="fuzz", base_url=fake.base_url, api="chat_completions",
                                 api_key="sk-fuzz-provider-key")
    assistant = make_assistant(client, auth, credential["id"], instructions="Be brief.")
    thread_id = make_thread(client, auth, assistant["id"])
    return {"agent_id": assistant["id"], "assistant_id": assistant["id"], "thread_id": thread_id,
            "credential": credential["id"], "credential_id": credential["id"]}


def seed_v2(client, auth, app, ids: dict) -> dict:
    """The Assistants API v2's objects (/v1): a thread with a message, a finished run, its step."""
    v2_thread = make_v2_thread(client, auth, "hi")["id"]
    run = client.post(f"/v1/threads/{v2_thread}/runs", headers=auth,
                      json={"assistant_id": ids["assistant_id"]}).json
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


# Operations whose valid requests go to the provider with the request's own model: one the fake provider
# has, so the cases test this service (a provider's unknown model is a 502 by design: test_provider_faults).
PROVIDER_MODEL = {"/v1/responses/compact": "gpt-4"}


def with_model(model: str):
    def replace(case):
        if isinstance(case.body, dict):
            case.body["model"] = model
        return case
    return replace


def pairs(first, second):
    """(a, b) from two strategies. Not st.tuples: hypothesis keeps the last 1,024 strategies it built
    for the whole session, and one built from an operation's strategy keeps that test's app alive."""
    return first.flatmap(lambda a: second.map(lambda b: (a, b)))


def set_body(case, body):
    case.body = body
    return case


def can_be_invalid(parameter) -> bool:
    """Whether schemathesis can make a parameter invalid: a path segment, a header or a cookie is a
    string whatever is sent, and a path segment is never empty, so only an enum, a pattern, a format or a
    maximum length makes one of those invalid; a query parameter's schema can always be broken."""
    if parameter.definition["in"] in ("path", "header", "cookie"):
        constraints = {"enum", "pattern", "format", "maxLength", "const"}
        return bool(constraints & parameter.definition["schema"].keys())
    return True


def negatable(operation, parameters) -> bool:
    """Whether a negative case of the operation can negate something: its body or one of `parameters`."""
    return bool(len(operation.body)) or any(map(can_be_invalid, parameters))


def strategies(operation, ids: dict) -> list[tuple[GenerationMode, st.SearchStrategy]]:
    """Valid and invalid requests; where the path names an object, also with a real one. Invalid ones only
    where something can be made invalid: schemathesis rejects a negative case that negates nothing, and
    hypothesis draws ~1,000 such before it gives up (33 strategies of the document found no case so,
    each spending a second or more)."""
    real_path = {p.name: ids[p.name] for p in operation.path_parameters if p.name in ids}
    others = [*operation.query, *operation.headers, *operation.cookies]
    generated_path = [p for p in operation.path_parameters if p.name not in real_path]
    found = [(POSITIVE, pairs(operation.as_strategy(), st.booleans()).map(with_real_ids(ids)))]
    if negatable(operation, [*others, *operation.path_parameters]):
        found.append((NEGATIVE, operation.as_strategy(generation_mode=NEGATIVE)))
    if real_path:
        found.append((POSITIVE, operation.as_strategy(path_parameters=real_path)))
        if negatable(operation, [*others, *generated_path]):
            found.append((NEGATIVE, operation.as_strategy(generation_mode=NEGATIVE,
                                                          path_parameters=real_path)))
    for suffix, make_body in CHAT_TURNS.items():
        if operation.path.endswith(suffix):  # cross-field rules keep most generated turns from the provider
            turns = pairs(operation.as_strategy(path_parameters=real_path),
                          st.tuples(TURN_TEXT, st.booleans()))
            turns = turns.map(lambda t, make=make_body: set_body(t[0], make(ids, *t[1])))
            found.append((POSITIVE, turns))
    if operation.path in PROVIDER_MODEL:
        known = with_model(PROVIDER_MODEL[operation.path])
        found = [(mode, strategy.map(known) if mode is POSITIVE else strategy) for mode, strategy in found]
    return found


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation(app, client, auth, fake, method, path):
    operation = loaded(app)[path][method]
    label = f"{method} {path}"
    cases, statuses = 0, collections.Counter()
    ids = seed(client, auth, fake)
    if path.startswith("/v1/"):
        ids = seed_v2(client, auth, app, ids)
    for _, strategy in strategies(operation, ids):
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

        run()  # a strategy that finds no case raises Unsatisfiable: can_be_invalid was wrong
    wait_for_runs(app)  # the runs it started, before the database is emptied
    print(f"fuzzed {label}: {cases} cases, statuses {dict(sorted(statuses.items()))}")


@pytest.mark.slow
def test_sequences_of_calls_that_follow_the_links_between_operations(app, client, auth, fake):
    """schemathesis' stateful phase over the whole document, run by its own engine (which starts a
    scenario again when the app's fresh ids make hypothesis call a replay flaky): sequences of calls,
    each fed with what an earlier response gave, along the links schemathesis infers from the document
    (an id a response holds, for the operations whose parameters name it)."""
    seed_v2(client, auth, app, seed(client, auth, fake))  # objects to find, and a provider credential
    schema = loaded(app, {**CONFIG, "headers": auth, "checks": {"enabled": False, **STATEFUL_CHECKS},
                          "phases": {"examples": {"enabled": False}, "coverage": {"enabled": False},
                                     "fuzzing": {"enabled": False},
                                     "stateful": {"max-steps": STEPS, "generation": {
                                         "max-examples": SCENARIOS, "deterministic": True}}}})
    calls, linked, failures, errors = collections.Counter(), 0, [], []
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            for case_id, checks in event.recorder.checks.items():
                failures += [check for check in checks if check.failure_info is not None]
            for case_id, interaction in event.recorder.interactions.items():
                if interaction.response is not None:
                    calls[interaction.response.status_code] += 1
                    linked += event.recorder.cases[case_id].is_transition_applied
        elif isinstance(event, (events.NonFatalError, events.FatalError)):
            errors.append(event)
    wait_for_runs(app)
    print(f"sequences: {sum(calls.values())} calls ({linked} fed by an earlier one), "
          f"statuses {dict(sorted(calls.items()))}")
    assert not errors, errors
    assert not failures, "\n\n".join(
        f"{f.name}: {f.failure_info.failure.title}\n{f.failure_info.failure.message}\n"
        f"{f.failure_info.code_sample}\n{f.failure_info.steps}" for f in failures)
    assert linked >= 5  # it did follow links (how many varies with the fresh ids the app hands out)


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


def test_the_routes_that_stream_declare_text_event_stream(client):
    """With "stream": true these answer server-sent events: the document says so (the fuzzer's
    content_type_conformance holds every answer to it)."""
    spec = client.get("/openapi.json").json
    streaming = {(method.upper(), path) for path, item in spec["paths"].items()
                 for method, operation in item.items() if method != "parameters"
                 and "text/event-stream" in operation["responses"].get("200", {}).get("content", {})}
    assert streaming == {("POST", "/v1/threads/runs"), ("POST", "/v1/threads/{thread_id}/runs"),
                         ("POST", "/v1/threads/{thread_id}/runs/{run_id}/submit_tool_outputs"),
                         ("POST", "/openai/chat"), ("POST", f"{AGENTS}/{{agent_id}}/chat/completions"),
                         ("POST", f"{ASSISTANTS}/{{agent_id}}/chat/completions")}
