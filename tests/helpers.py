"""What several test modules share: constants, request helpers and the route table. Test modules
import from here (or conftest's fixtures), never from one another."""
import functools
import json
import os
import shutil
from contextlib import contextmanager

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, make_url, text

from assistants_app import create_app
from assistants_app.auth import create_api_key
from assistants_app.extensions import db

from .live_server import LiveServer

SECRET_KEYS = ",".join(Fernet.generate_key().decode() for _ in range(2))
# The environment of a process make test's coverage should not measure (coverage's .pth starts only when
# COVERAGE_PROCESS_START is set and not empty): the load scenarios (the benchmark, the soak), the docs'
# build and the real gunicorns but two (start_live_server), whose lines the other tests reach too, and
# which coverage made 1.5 to 4 times as slow (and a worker's RSS, which one test measures, larger).
UNMEASURED = {"COVERAGE_PROCESS_START": ""}
# Reversed dependency order, so rows go before the rows they point at.
TABLES = ("vector_store_chunks", "vector_store_files", "vector_store_file_batches", "vector_stores", "files",
          "token_usage", "response_events", "responses", "runs", "messages", "threads", "assistants",
          "credentials", "api_keys")
# The pytest-xdist worker this process is ("gw0", "gw1", ...; "" in a run without workers): what it
# shares with the other workers of the run (a database server, Redis) it holds under a name of its own.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
# Database 15 of the local Redis is the tests' own, for the shared rate limit and models cache; with
# pytest-xdist, worker n has 15 - n (16 databases: up to 16 workers).
REDIS_URL = f"redis://127.0.0.1:6379/{15 - int(XDIST_WORKER[2:] or 0)}"

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


def key_on(database_url: str, tenant: str = "default", name: str = "test") -> str:
    """A key made on a database (a live server's), as `flask api-keys create` makes one, without a
    process's seconds (tests/test_auth.py tests the command)."""
    with app_on(database_url) as app:
        return make_key(app, tenant, name)


def headers_for(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def auth_for(app, tenant="default", name="test") -> dict:
    """Headers of a new key of the app (make_key's defaults: tenant "default", name "test")."""
    return headers_for(make_key(app, tenant, name))


def empty_tables() -> None:
    """Delete every row (inside an app context)."""
    for table in TABLES:
        db.session.execute(text(f"DELETE FROM {table}"))
    db.session.commit()


def delete_rows(database_url: str) -> None:
    """empty_tables() of another database (a live server's)."""
    with app_on(database_url) as app, app.app_context():
        empty_tables()


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


@contextmanager
def scratch_database(url: str, name: str):
    """A new, empty PostgreSQL database `name` on the server of `url` (dropped first if a run that was
    killed left it behind); its URL, and it is dropped on the way out, whoever is still connected."""
    url = make_url(url)
    server = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            with server.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        server.dispose()


def start_live_server(database_url: str, provider_url: str, log_path, *, workers: int = 2,
                      measured: bool = False, **env) -> LiveServer:
    """The real gunicorn (tests/live_server.py) on a migrated database, its provider `provider_url`,
    with a key made by key_on.

    Unmeasured by make test's coverage unless `measured`: a gunicorn worker traced by coverage (gevent's
    concurrency too) spends 2 to 4 times the CPU, and the whole suite ran 35 s longer on 2 cores (5m45s
    against 5m11s) for 12 lines the in-process tests do not reach. The tests that reach those -- the
    WebSocket mode, the multiprocess metrics directory -- ask for a measured server."""
    key = key_on(database_url, name="live-server")
    settings = {"ASSISTANTS_SECRET_KEYS": SECRET_KEYS, "OPENAI_BASE_URL": provider_url,
                "OPENAI_TIMEOUT": "5", "OPENAI_MAX_RETRIES": "0", **({} if measured else UNMEASURED), **env}
    return LiveServer(database_url, settings, workers=workers, log_path=log_path, migrate=False,
                      api_key=key).start()


def routes(app) -> list[tuple[str, str]]:
    """(rule, method) of every HTTP route of the app, HEAD and OPTIONS aside (a WebSocket route, only a
    real server can reach: tests/test_responses_socket.py)."""
    return sorted((rule.rule, method) for rule in app.url_map.iter_rules() if not rule.websocket
                  for method in rule.methods - {"HEAD", "OPTIONS"})


@functools.cache
def spec_and_routes() -> tuple[dict, list[tuple[str, str]]]:
    """The OpenAPI document and the route table, for parametrizing at collection time: built once for
    the modules that ask, so no caller changes them (test_fuzz deep-copies the document for schemathesis)."""
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
# Factories for a test's setup: each posts its defaults merged with the fields given, asserts the
# creation succeeded (the response's text in the message) and returns the JSON.

def created(response, status: int = 200) -> dict:
    """The JSON of a creation that must have answered `status`."""
    assert response.status_code == status, response.get_data(as_text=True)
    return response.json


def make_credential(client, auth, **overrides) -> dict:
    """POST /credentials: name "fake", openai_compatible at http://127.0.0.1:9/v1, a made-up api_key."""
    body = {"name": "fake", "provider": "openai_compatible", "base_url": "http://127.0.0.1:9/v1",
            "api_key": "sk-credential-secret-1234"}
    body.update(overrides)
    return created(client.post("/credentials", json=body, headers=auth), 201)


def make_assistant(client, auth, credential=None, extra=None, **details) -> dict:
    """POST /assistants (Flowise's): details {"model": "gpt-4", **details}; `credential` (an id) if given,
    and `extra`'s other top-level fields (iconSrc, type)."""
    body = {"details": {"model": "gpt-4", **details}, **(extra or {})}
    if credential is not None:
        body["credential"] = credential
    return created(client.post("/assistants", json=body, headers=auth))


def make_thread(client, auth, agent_id: str) -> str:
    """POST /openai/initialize (the conversations API) for `agent_id`: the new thread's id."""
    return created(client.post("/openai/initialize", json={"agent_id": agent_id}, headers=auth))["thread_id"]


def make_v2_thread(client, auth, *texts: str, **fields) -> dict:
    """POST /v1/threads: one user message per text given (none by default), plus `fields`."""
    messages = [{"role": "user", "content": text} for text in texts]
    body = {"messages": messages, **fields} if messages else fields
    return created(client.post("/v1/threads", json=body, headers=auth))


def make_conversation(client, auth, *items: dict) -> dict:
    """POST /v1/conversations: with the items given (none by default)."""
    return created(client.post("/v1/conversations", json={"items": list(items)} if items else {},
                               headers=auth))


def create_agent(client, auth, base=AGENTS, **fields) -> dict:
    """POST {base} (seed 003's agents API): {"model": "gpt-4", **fields}."""
    return created(client.post(base, json={"model": "gpt-4", **fields}, headers=auth), 201)


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
    return openai.OpenAI(base_url="http://testserver/v1", api_key=key, max_retries=0, http_client=http,
                         **options)


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
