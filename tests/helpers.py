"""What several test modules share: constants, request helpers and the route table. Test modules
import from here (or conftest's fixtures), never from one another."""
import json
import os
import shutil
from contextlib import contextmanager

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from assistants_app import create_app
from assistants_app.auth import create_api_key
from assistants_app.extensions import db

SECRET_KEYS = ",".join(Fernet.generate_key().decode() for _ in range(2))
# Reversed dependency order, so rows go before the rows they point at.
TABLES = ("vector_store_chunks", "vector_store_files", "vector_store_file_batches", "vector_stores", "files",
          "token_usage", "response_events", "responses", "runs", "messages", "threads", "assistants",
          "credentials", "api_keys")
# Database 15 of the local Redis: the tests' own, for the shared rate limit and models cache.
REDIS_URL = "redis://127.0.0.1:6379/15"

# Seed 003's API, under both of its collection names.
SEED_003 = "/api/v1/compatibility/openai/v1"
AGENTS = f"{SEED_003}/agents"
ASSISTANTS = f"{SEED_003}/assistants"
BASES = (AGENTS, ASSISTANTS)
NOT_FOUND = {"detail": "No agent found with the specified ID."}


# ---------------------------------------------------------------- apps and keys

def make_key(app, tenant="default", name="test") -> str:
    with app.app_context():
        return create_api_key(name, tenant)[1]


def headers_for(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def empty_tables() -> None:
    """Delete every row (inside an app context)."""
    for table in TABLES:
        db.session.execute(text(f"DELETE FROM {table}"))
    db.session.commit()


@contextmanager
def app_on(database_url: str, **config):
    """A throwaway app on another database (or none: "sqlite://"), its engine disposed on the way out."""
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "ASSISTANTS_SECRET_KEYS": SECRET_KEYS,
                      "REDIS_URL": None, **config})
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def routes(app) -> list[tuple[str, str]]:
    """(rule, method) of every route of the app, HEAD and OPTIONS aside."""
    return sorted((rule.rule, method) for rule in app.url_map.iter_rules()
                  for method in rule.methods - {"HEAD", "OPTIONS"})


def spec_and_routes() -> tuple[dict, list[tuple[str, str]]]:
    """The OpenAPI document and the route table, for parametrizing at collection time."""
    with app_on("sqlite://") as app:
        return app.test_client().get("/openapi.json").json, routes(app)


def redis_or_skip(url: str = REDIS_URL):
    """A client of the tests' Redis database; skips without Redis, fails in CI (which must test it)."""
    import redis

    connection = redis.Redis.from_url(url, socket_connect_timeout=0.5)
    try:
        connection.ping()
    except redis.RedisError:
        if os.environ.get("CI"):
            pytest.fail("Redis is not answering on 127.0.0.1:6379, and CI must test what goes through it")
        pytest.skip("no Redis on 127.0.0.1:6379")
    return connection


class Clock:
    """A monotonic clock that moves only when the test moves it: for the caches' `clock` seams
    (app.extensions["provider_answers"].store.clock), so TTL tests never wait."""

    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def move(self, seconds: float) -> None:
        self.now += seconds


# ---------------------------------------------------------------- objects through the API

def make_credential(client, auth, **overrides) -> dict:
    body = {"name": "fake", "provider": "openai_compatible", "base_url": "http://127.0.0.1:9/v1",
            "api_key": "sk-credential-secret-1234"}
    body.update(overrides)
    response = client.post("/credentials", json=body, headers=auth)
    assert response.status_code == 201, response.json
    return response.json


def create_agent(client, auth, base=AGENTS, **fields) -> dict:
    body = {"model": "gpt-4", **fields}
    response = client.post(base, json=body, headers=auth)
    assert response.status_code == 201, response.json
    return response.json


def assert_validation_error(response, *locs):
    """FastAPI's 422: {"detail": [{"loc", "msg", "type"}]}; each loc given must be among them."""
    assert response.status_code == 422, response.get_data(as_text=True)
    body = response.json
    assert set(body) == {"detail"} and body["detail"]
    for item in body["detail"]:
        assert set(item) == {"loc", "msg", "type"}
        assert isinstance(item["loc"], list) and item["loc"][0] in ("body", "query")
        assert isinstance(item["msg"], str) and item["msg"] and isinstance(item["type"], str)
    found = [item["loc"] for item in body["detail"]]
    for loc in locs:
        assert list(loc) in found, found
    return body["detail"]


# ---------------------------------------------------------------- seed 003 chat

def chat(client, auth, agent_id, messages, base=AGENTS, **extra):
    """POST {base}/{agent_id}/chat/completions."""
    return client.post(f"{base}/{agent_id}/chat/completions", headers=auth,
                       json={"messages": messages, **extra})


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def parse_stream(response) -> list:
    """The chunks of a seed-003 chat.completion.chunk stream, which must end with [DONE]."""
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    frames = [block for block in response.get_data(as_text=True).split("\n\n") if block]
    assert all(frame.startswith("data: ") for frame in frames)
    assert frames[-1] == "data: [DONE]"
    return [json.loads(frame[len("data: "):]) for frame in frames[:-1]]


# ---------------------------------------------------------------- the Assistants API v2 (/v1)

def sdk(app, key: str, **options):
    """The official openai client on the app's /v1, in process (httpx2's WSGI transport)."""
    import httpx2
    import openai

    http = httpx2.Client(transport=httpx2.WSGITransport(app=app), base_url="http://testserver")
    return openai.OpenAI(base_url="http://testserver/v1", api_key=key, max_retries=0, http_client=http, **options)


def wait_for_runs(app, timeout: float = 20.0) -> None:
    """Wait until the app's background runs have ended (services/background.py keeps them)."""
    from assistants_app.services import background

    background.wait_all(app, timeout)


# ---------------------------------------------------------------- the openai Node client (tests/node)

NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node")


def node_or_skip() -> str:
    """node, with tests/node installed (.ci/run: npm ci); without it a test skips, in CI it fails."""
    node = shutil.which("node")
    if node is None or not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "openai")):
        if os.environ.get("CI"):
            pytest.fail("the Node client is not installed: npm ci --prefix tests/node")
        pytest.skip("no node, or tests/node not installed (npm ci --prefix tests/node)")
    return node
