"""Limits: the per-API-key rate limit (flask-limiter; 429 + Retry-After in the error contract,
in Redis when REDIS_URL is set), length limits (422), and Unicode, NUL and very long strings
on every route without a 500."""
import json
import re
import uuid
from urllib.parse import quote

import pytest

from assistants_app.auth import digest

from .helpers import (AGENTS, REDIS_URL, auth_for, headers_for, make_assistant, make_credential, make_key,
                      make_thread, redis_or_skip, spec_and_routes, wait_for_runs)

ARGUMENT = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")
DETAIL_REF = {"$ref": "#/components/schemas/Detail"}


@pytest.fixture
def app_config(app_config):
    return dict(app_config, RATELIMIT_DEFAULT="3 per minute")


def documented_schema(client, path: str, method: str, status: int) -> dict:
    """The body schema /openapi.json gives for a status (public: no key, so no rate limit)."""
    operation = client.get("/openapi.json").json["paths"][path][method]
    return operation["responses"][str(status)]["content"]["application/json"]["schema"]


def assert_429(response):
    assert response.status_code == 429, response.get_data(as_text=True)
    body = response.json
    assert set(body) == {"code", "status", "message"}
    assert (body["code"], body["status"]) == (429, "Too Many Requests")
    assert 1 <= int(response.headers["Retry-After"]) <= 61
    return body


def test_a_key_past_its_limit_gets_429_with_retry_after(client, auth):
    for _ in range(3):
        assert client.get("/assistants", headers=auth).status_code == 200
    body = assert_429(client.get("/assistants", headers=auth))
    assert "3 per 1 minute" in body["message"]
    # Every route shares the key's budget; each API answers in its own error shape.
    agents = client.get(f"{AGENTS}/{uuid.uuid4()}", headers=auth)
    assert agents.status_code == 429 and agents.json == {"detail": (
        f"Too many requests with this API key (3 per 1 minute). "
        f"Retry after {agents.headers['Retry-After']} s.")}
    assert documented_schema(client, f"{AGENTS}/{{agent_id}}", "get", 429) == DETAIL_REF
    assert 1 <= int(agents.headers["Retry-After"]) <= 61
    assert_429(client.post("/openai/initialize", json={"agent_id": "x"}, headers=auth))


def test_the_agents_api_answers_413_in_its_detail_shape(make_app_with):
    client, auth = make_app_with(ASSISTANTS_MAX_BODY_BYTES=100, RATELIMIT_DEFAULT="1000 per minute")
    response = client.post(AGENTS, json={"model": "m" * 200}, headers=auth)
    assert response.status_code == 413
    assert response.json == {"detail": "The request body is larger than 100 bytes."}
    chat = client.post(f"{AGENTS}/{uuid.uuid4()}/chat/completions", headers=auth,
                       json={"messages": [{"role": "user", "content": "x" * 200}]})
    assert chat.status_code == 413 and chat.json == response.json
    assert documented_schema(client, f"{AGENTS}/{{agent_id}}/chat/completions", "post", 413) == DETAIL_REF
    # The rest of the service keeps its own shape.
    other = client.post("/assistants", json={"details": {"model": "m" * 200}}, headers=auth)
    assert other.status_code == 413 and other.json["code"] == 413


def test_keys_are_limited_independently(app, client, auth):
    other_same_tenant = auth_for(app, name="second")
    for _ in range(3):
        client.get("/assistants", headers=auth)
    assert_429(client.get("/assistants", headers=auth))
    for _ in range(3):
        assert client.get("/assistants", headers=other_same_tenant).status_code == 200
    assert_429(client.get("/assistants", headers=other_same_tenant))


def test_health_is_never_limited_and_keyless_requests_are_limited_by_address(client):
    for _ in range(10):
        assert client.get("/health").status_code == 200
    for _ in range(3):
        assert client.get("/openapi.json").status_code == 200
    assert_429(client.get("/openapi.json"))
    assert_429(client.get("/assistants"))  # the same address, no key: its budget is spent too
    other_address = client.get("/openapi.json", environ_overrides={"REMOTE_ADDR": "10.1.2.3"})
    assert other_address.status_code == 200


class RedisCounts:
    """The rate-limit counts in the tests' Redis database, of the API keys a test asked about
    (so that another suite running against the same Redis cannot disturb them)."""

    def __init__(self, connection):
        self.connection = connection
        self.digests: list[str] = []

    def of(self, key: str) -> dict[str, int]:
        self.digests.append(digest(key))
        names = self.connection.scan_iter(match=f"*assistants_app*{digest(key)}*")
        return {name.decode(): int(self.connection.get(name)) for name in names}

    def delete(self) -> None:
        for key_digest in self.digests:
            for name in self.connection.scan_iter(match=f"*assistants_app*{key_digest}*"):
                self.connection.delete(name)


@pytest.fixture
def redis_counts():
    counts = RedisCounts(redis_or_skip())
    try:
        yield counts
    finally:
        counts.delete()


def test_limits_are_counted_in_redis_and_shared_by_workers(make_app, redis_counts):
    workers = [make_app(REDIS_URL=REDIS_URL), make_app(REDIS_URL=REDIS_URL)]  # two gunicorn workers
    key = make_key(workers[0], name="redis")
    for index in range(3):
        assert workers[index % 2].test_client().get("/assistants",
                                                    headers=headers_for(key)).status_code == 200
    # Both workers counted in Redis, under the key's digest (never the key itself).
    [(name, count)] = redis_counts.of(key).items()
    assert count == 3 and key not in name
    assert_429(workers[0].test_client().get("/assistants", headers=headers_for(key)))
    assert_429(workers[1].test_client().get("/assistants", headers=headers_for(key)))
    # A worker started later (a new process: an empty memory) finds the key's budget spent.
    assert_429(make_app(REDIS_URL=REDIS_URL).test_client().get("/assistants", headers=headers_for(key)))


def test_a_dead_redis_app_leaves_later_apps_counting_in_redis(make_app, redis_counts):
    # An app whose Redis is down falls back to counting in its memory...
    down = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    key = make_key(down, name="redis-down-first")
    assert down.test_client().get("/assistants", headers=headers_for(key)).status_code == 200
    assert redis_counts.of(key) == {}
    # ...which is its own state: the apps built after it count in their Redis.
    workers = [make_app(REDIS_URL=REDIS_URL), make_app(REDIS_URL=REDIS_URL)]
    for index in range(3):
        assert workers[index % 2].test_client().get("/assistants",
                                                    headers=headers_for(key)).status_code == 200
    assert list(redis_counts.of(key).values()) == [3]
    assert_429(workers[0].test_client().get("/assistants", headers=headers_for(key)))


def test_redis_down_limits_in_memory_instead_of_failing(make_app):
    app = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    key = auth_for(app, name="redis-down")
    client = app.test_client()
    for _ in range(3):
        assert client.get("/assistants", headers=key).status_code == 200
    assert_429(client.get("/assistants", headers=key))


# --- Lengths ------------------------------------------------------------------------------

@pytest.fixture
def unlimited(app_config):
    app_config["RATELIMIT_DEFAULT"] = "100000 per minute"
    return app_config


LENGTH_CASES = [
    # (method, path, body, status): one field just past its limit.
    ("POST", "/assistants", {"details": {"model": "m", "instructions": "i" * 256_001}}, 422),
    ("POST", "/assistants", {"details": {"model": "m" * 257}}, 422),
    ("POST", "/assistants", {"details": {"model": "m", "name": "n" * 257}}, 422),
    ("POST", "/assistants", {"details": {"model": "m", "description": "d" * 513}}, 422),
    ("POST", "/assistants", {"details": {"model": "m"}, "iconSrc": "/" * 2049}, 422),
    ("POST", AGENTS, {"model": "m", "instructions": "i" * 256_001}, 422),
    ("POST", AGENTS, {"model": "m", "metadata": {f"k{i}": "v" for i in range(17)}}, 422),
    ("POST", AGENTS, {"model": "m", "metadata": {"k" * 65: "v"}}, 422),
    ("POST", AGENTS, {"model": "m", "metadata": {"k": "v" * 513}}, 422),
    ("POST", "/credentials", {"name": "n" * 201, "api_key": "k"}, 422),
    ("POST", "/credentials", {"name": "n", "api_key": "k" * 4097}, 422),
    ("POST", "/openai/initialize", {"agent_id": "a" * 129}, 400),
]


@pytest.mark.parametrize(("method", "path", "body", "status"), LENGTH_CASES,
                         ids=[f"{c[1]}-{json.dumps(c[2])[:40]}" for c in LENGTH_CASES])
def test_lengths_past_the_limit_are_refused(unlimited, client, auth, method, path, body, status):
    response = client.open(path, method=method, json=body, headers=auth)
    assert response.status_code == status, response.get_data(as_text=True)[:300]


def test_message_lengths_are_refused(unlimited, client, auth, fake):
    agent = client.post(AGENTS, json={"model": "gpt-4"}, headers=auth).json["id"]
    thread = client.post("/openai/initialize", json={"agent_id": agent}, headers=auth).json["thread_id"]
    too_long = "m" * 1_000_001  # under the 1 MiB body limit: the field's own limit answers
    turn = {"agent_id": agent, "thread_id": thread}
    assert client.post("/openai/chat", json={**turn, "user_input": too_long}, headers=auth).status_code == 400
    assert client.post("/openai/chat", json={**turn, "message": too_long}, headers=auth).status_code == 400
    chat = client.post(f"{AGENTS}/{agent}/chat/completions", headers=auth,
                       json={"messages": [{"role": "user", "content": too_long}]})
    assert chat.status_code == 422 and chat.json["detail"][0]["loc"][:2] == ["body", "messages"]
    assert client.get(f"/openai/threads/{thread}/messages", headers=auth).json["data"] == []
    assert fake.requests_to("/chat/completions") == []


# --- Unicode, NUL, very long strings: never a 500 -----------------------------------------

PAYLOADS = {
    # Astral emoji, right-to-left override, a combining mark, CJK, zero-width joiner, a lone surrogate.
    "unicode": "\U0001F600\u202eabc\u0301\u4e2d\u6587\u200d\ud800",
    "nul": "a\x00b",
    "long": "Ab3 \u00e9" * 60_000,
}
ID_FIELDS = {"agent_id": "assistant", "assistant_id": "assistant", "credential_id": "credential",
             "credential": "credential", "thread_id": "thread", "store_in_session": "thread"}


SPEC, ROUTES = spec_and_routes()


def resolve(schema: dict) -> dict:
    while "$ref" in schema:
        schema = SPEC["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    for combined in ("oneOf", "anyOf", "allOf"):
        if combined in schema:
            return resolve(schema[combined][0])
    return schema


def instance(schema: dict, text: str, only_required: bool):
    """A value of the schema with `text` in every string (enums keep a valid value)."""
    schema = resolve(schema)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "integer":
        return 1
    if kind == "number":
        return 0.5
    if kind == "boolean":
        return False
    if kind == "array":
        return [instance(schema.get("items", {}), text, only_required)]
    if kind == "object" or "properties" in schema:
        properties = {name: sub for name, sub in schema.get("properties", {}).items()
                      if not sub.get("readOnly")}
        if only_required:
            properties = {name: properties[name] for name in schema.get("required", []) if name in properties}
        value = {name: instance(sub, text, only_required) for name, sub in properties.items()}
        if isinstance(schema.get("additionalProperties"), dict) and not only_required:
            value[text[:64]] = instance(schema["additionalProperties"], text, only_required)
        return value
    return text


def operation_for(rule: str, method: str) -> dict:
    path = rule.replace("<", "{").replace(">", "}")
    return SPEC["paths"].get(path, {}).get(method.lower(), {})


def requests_for(rule, method, text, real: dict):
    """Every argument, query parameter and body string set to `text`: with made-up ids, then
    with real ones (so that valid-looking input reaches the database and the provider)."""
    operation = operation_for(rule, method)
    # In a URL, "very long" is what a server lets through (gunicorn: a 4094-byte request line).
    wire_text = quote(text[:1000].encode("utf-8", "surrogatepass"), safe="")
    parameters = operation.get("parameters", [])
    query = "&".join(f"{p['name']}={wire_text}" for p in parameters if p.get("in") == "query")
    content = operation.get("requestBody", {}).get("content", {})
    body_schema = content.get("application/json", {}).get("schema")
    bodies = [instance(body_schema, text, only) for only in (False, True)] if body_schema else [None]
    made_up = wire_text
    for use_real in (False, True):
        path = ARGUMENT.sub(lambda m: real.get(ID_FIELDS.get(m.group(1)), made_up) if use_real else made_up,
                            rule)
        for body in bodies:
            if use_real and isinstance(body, dict):
                body = {k: real[ID_FIELDS[k]] if k in ID_FIELDS else v for k, v in body.items()}
            yield path, query, body


@pytest.mark.parametrize("kind", PAYLOADS)
@pytest.mark.parametrize(("rule", "method"), ROUTES, ids=[f"{m} {r}" for r, m in ROUTES])
def test_no_500_on_any_route(unlimited, client, auth, fake, rule, method, kind):
    credential = make_credential(client, auth, name="c", base_url=fake.base_url, api_key="sk-x")["id"]
    assistant = make_assistant(client, auth, credential)["id"]
    thread = make_thread(client, auth, assistant)
    real = {"credential": credential, "assistant": assistant, "thread": thread}
    sent = 0
    for path, query, body in requests_for(rule, method, PAYLOADS[kind], real):
        response = client.open(path, method=method, headers=auth, query_string=query or None, json=body)
        text = response.get_data(as_text=True)
        assert response.status_code < 500, (method, path[:100], response.status_code, text[:300])
        if response.mimetype == "application/json":
            json.loads(text)
        sent += 1
    assert sent >= 2
    wait_for_runs(client.application)  # the /v1 runs it started, before the database is emptied
