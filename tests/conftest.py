"""Fixtures: a fresh app per test over one migrated database (SQLite by default,
PostgreSQL when TEST_DATABASE_URL is set), and a loopback fake OpenAI server."""
import gc
import itertools
import os
import shutil
import tempfile

import openai
import pytest
from flask_migrate import upgrade
from sqlalchemy import make_url, text

from assistants_app import create_app
from assistants_app.extensions import db
from assistants_app.services import background

from .fake_openai import FakeOpenAI
from .helpers import (SECRET_KEYS, XDIST_WORKER, app_on, delete_rows, empty_tables, headers_for, key_on,
                      make_key, scratch_database, start_live_server)
from .live_server import LiveServer


# Tests that share an expensive session or package fixture: each group goes to one pytest-xdist worker.
SHARING_TESTS = ("tests/playground/",  # a gunicorn, a browser per module
                 "tests/test_docs.py")  # a sphinx-build of docs/


def pytest_xdist_make_scheduler(config, log):
    """With pytest-xdist (make test's -n), tests are dealt out to the workers one at a time, as they
    become free (xdist's `load`), except each group of SHARING_TESTS, dealt out whole to one worker
    (ahead of the single tests: the largest units first). xdist's own xdist_group marks would do it,
    but pytest-xdist 3.8 names a grouped test in a way pytest 9 no longer reads."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharingScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return next((group for group in SHARING_TESTS if nodeid.startswith(group)), nodeid)

    return SharingScheduling(config, log)


LIVE_SERVERS = {"live_server", "shared_live_server"}


@pytest.hookimpl(trylast=True)  # after pytest-randomly has shuffled them
def pytest_collection_modifyitems(items):
    """The slow tests (marked slow, or running a real gunicorn) first, in the random order they were
    given: with xdist, one of 10-30 s dealt out last kept a worker busy after the other had run out
    of tests (a whole run is scheduled longest first)."""
    def slow(item) -> bool:
        return bool(item.get_closest_marker("slow") or LIVE_SERVERS & set(item.fixturenames))
    items.sort(key=lambda item: not slow(item))


def pytest_collection_finish(session):
    """What is imported and collected by now lives to the end: frozen out of the cyclic collector
    (gc.freeze), so the collections in the tests' teardowns walk only what the tests made."""
    gc.collect()
    gc.freeze()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """No garbage collection while a test runs; the collections it puts off run in its teardown.
    A full collection walks every object of this process (hundreds of thousands: the imported
    modules, the openai SDK's types, hypothesis), stopping every thread for up to a second on a
    busy 2-core host, which a test timing a request would count as the service's time."""
    gc.disable()
    try:
        return (yield)
    finally:
        gc.enable()


@pytest.fixture(scope="session")
def database_url():
    """The session's database. Each pytest-xdist worker (its own session) has its own, as every test
    empties the tables: SQLite, a file in a directory of its own; PostgreSQL, TEST_DATABASE_URL's
    database with the worker's name appended, made now and dropped at the end (without workers,
    TEST_DATABASE_URL's itself)."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url and XDIST_WORKER:
        with scratch_database(url, f"{make_url(url).database}_{XDIST_WORKER}") as own:
            yield own
    elif url:
        yield url
    else:
        with tempfile.TemporaryDirectory() as directory:
            yield "sqlite:///" + os.path.join(directory, "test.sqlite3")


@pytest.fixture(scope="session")
def migrated(database_url):
    """The schema, built once by the real migrations (so every run tests them too)."""
    with app_on(database_url) as app, app.app_context():
        if database_url.startswith("postgresql"):
            db.session.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            db.session.commit()
        upgrade()
    return database_url


@pytest.fixture(scope="session")
def fake_server():
    server = FakeOpenAI().start()
    warm_up_openai(server)
    yield server
    server.stop()


def warm_up_openai(server):
    """The openai SDK imports its resources and builds their pydantic types on first use: seconds
    for the Assistants API on a busy machine, which the first test to use a backend paid inside its
    provider deadline (2 s in test_openai_routes: a 504 that depended on the order). Paid here once."""
    client = openai.OpenAI(base_url=server.base_url, api_key="sk-warm-up", max_retries=0, timeout=30)
    client.models.list()
    hello = [{"role": "user", "content": "hi"}]
    client.chat.completions.create(model="gpt-4", messages=hello)
    list(client.chat.completions.create(model="gpt-4", messages=hello, stream=True))
    conversation = client.conversations.create()
    client.responses.create(model="gpt-4", input="hi", conversation=conversation.id)
    list(client.responses.create(model="gpt-4", input="hi", stream=True))
    assistant = client.beta.assistants.create(model="gpt-4")
    thread = client.beta.threads.create()
    list(client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id, stream=True))
    client.close()
    server.reset()


@pytest.fixture
def fake(fake_server):
    fake_server.reset()
    return fake_server


@pytest.fixture
def app_config(migrated, fake_server, tmp_path):
    """Override entries in a test (before asking for `app`) to change the app's config."""
    return {
        "TESTING": True,
        "DATABASE_URL": migrated,
        "ASSISTANTS_SECRET_KEYS": SECRET_KEYS,
        "OPENAI_API_KEY": "sk-default-test-key",
        "OPENAI_BASE_URL": fake_server.base_url,
        "OPENAI_TIMEOUT": 5.0,
        "OPENAI_MAX_RETRIES": 1,
        "OPENAI_RETRY_BACKOFF": 0.02,
        "MODELS_CACHE_TTL": 60.0,
        "STATUS_TIMEOUT": 1.0,
        "REDIS_URL": None,
        # Tenants' credentials point at loopback fakes (this one, refused ports): allowed explicitly.
        "PROVIDER_ALLOWED_HOSTS": "127.0.0.1",
    }


@pytest.fixture
def make_app(app_config, fake):
    """make_app(**overrides): an app from app_config plus the overrides. After the test, whatever
    happened in it, every app made has its sessions removed and its engine disposed, and the test
    database's tables are emptied."""
    made = []

    def make(**overrides):
        app = create_app({**app_config, **overrides})
        made.append(app)
        return app

    yield make
    close_apps(made, app_config["DATABASE_URL"])


def close_apps(apps, database_url):
    """Sessions first (a session of one app may hold a lock another app's DELETE waits for), then
    the rows of the test database, then every engine; each step runs whatever failed before it."""
    failures = []

    def attempt(app, step):
        try:
            with app.app_context():
                step()
        except Exception as err:  # noqa: BLE001 - the first failure is raised once all is closed
            failures.append(err)

    for app in apps:  # background runs first: one going on would write into the next test's rows
        attempt(app, lambda app=app: background.wait_all(app))
    for app in apps:
        attempt(app, db.session.remove)
    on_test_database = [app for app in apps if app.config["DATABASE_URL"] == database_url]
    if on_test_database:
        attempt(on_test_database[0], empty_tables)
    for app in apps:
        attempt(app, lambda: (db.session.remove(), db.engine.dispose()))
    if failures:
        raise failures[0]


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def make_app_with(make_app):
    """make_app_with(**overrides) -> (test client, auth headers) of make_app(**overrides)."""
    def make(**overrides):
        other = make_app(**overrides)
        return other.test_client(), headers_for(make_key(other))

    return make


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def api_key(app):
    return make_key(app)


@pytest.fixture
def auth(api_key):
    """Headers that authenticate as tenant "default"."""
    return headers_for(api_key)


@pytest.fixture
def other_auth(app):
    """Headers of a key of another tenant."""
    return headers_for(make_key(app, tenant="other", name="other"))


@pytest.fixture(scope="session")
def live_database(migrated, tmp_path_factory):
    """new() -> the URL of a migrated database with no rows, for a real gunicorn. PostgreSQL: the
    session's (its rows are deleted after each test). SQLite: a new copy of a file the migrations
    built once in this session, as `flask db upgrade` builds one (without a process's seconds)."""
    if migrated.startswith("postgresql"):
        yield lambda: migrated
        return
    directory = tmp_path_factory.mktemp("live")
    template = directory / "migrated.sqlite3"
    with app_on(f"sqlite:///{template}") as app, app.app_context():
        upgrade()
    copies = itertools.count()

    def new() -> str:
        path = directory / f"live-{next(copies)}.sqlite3"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"

    yield new


LIVE_SETTINGS = {"PROVIDER_ALLOWED_HOSTS": "127.0.0.1"}


@pytest.fixture
def live_server(live_database, fake, tmp_path):
    """start(workers=2, measured=False, **env) runs a real gunicorn of this test's own
    (tests/live_server.py; unmeasured by coverage unless asked: helpers.start_live_server) on an
    empty database, against the fake provider reset for this test (no fault an earlier test queued and
    left unconsumed); after the test it is killed (and on PostgreSQL its rows are deleted)."""
    servers = []

    def start(workers=2, **env):
        servers.append(start_live_server(live_database(), fake.base_url, tmp_path / "gunicorn.log",
                                         workers=workers, **{**LIVE_SETTINGS, **env}))
        return servers[-1]

    try:
        yield start
    finally:
        for server in servers:
            server.stop()
            if server.env["DATABASE_URL"].startswith("postgresql"):  # SQLite: the copy is the test's alone
                delete_rows(server.env["DATABASE_URL"])


@pytest.fixture(scope="session")
def shared_gunicorn(live_database, fake_server, tmp_path_factory):
    """() -> the one real gunicorn of this pytest process that shared_live_server hands out, started
    when a test first asks for it, stopped at the end of the session."""
    started = []

    def get() -> LiveServer:
        if not started:
            log_path = tmp_path_factory.mktemp("shared-live") / "gunicorn.log"
            started.append(start_live_server(live_database(), fake_server.base_url, log_path,
                                             **LIVE_SETTINGS))
        return started[0]

    yield get
    for server in started:
        server.stop()


@pytest.fixture
def shared_live_server(shared_gunicorn, fake):
    """A real gunicorn as live_server() starts it (2 workers, its settings), shared by the tests that
    ask for this one: each gets it with every worker serving (a test before may have killed some), no
    rows and a new key; its rows are deleted after the test. For a test that needs no setting of its
    own nor a new process (counts of metrics, memory): it saves the seconds of starting one."""
    server = shared_gunicorn()
    server.wait_serving(server.wait_for_workers())
    server.api_key = key_on(server.env["DATABASE_URL"], name="live-server")
    yield server
    delete_rows(server.env["DATABASE_URL"])
