"""Fixtures: a fresh app per test over one migrated database (SQLite by default,
PostgreSQL when TEST_DATABASE_URL is set), and a loopback fake OpenAI server."""
import os
import tempfile

import pytest
from cryptography.fernet import Fernet
from flask_migrate import upgrade
from sqlalchemy import text

from assistants_app import create_app
from assistants_app.auth import create_api_key
from assistants_app.extensions import db

from .fake_openai import FakeOpenAI
from .live_server import LiveServer

SECRET_KEYS = ",".join(Fernet.generate_key().decode() for _ in range(2))
# Reversed dependency order, so rows go before the rows they point at.
TABLES = ("messages", "threads", "assistants", "credentials", "api_keys")


@pytest.fixture(scope="session")
def database_url():
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    with tempfile.TemporaryDirectory() as directory:
        yield "sqlite:///" + os.path.join(directory, "test.sqlite3")


@pytest.fixture(scope="session")
def migrated(database_url):
    """The schema, built once by the real migrations (so every run tests them too)."""
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "ASSISTANTS_SECRET_KEYS": SECRET_KEYS})
    with app.app_context():
        if database_url.startswith("postgresql"):
            db.session.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            db.session.commit()
        upgrade()
        db.engine.dispose()
    return database_url


@pytest.fixture(scope="session")
def fake_server():
    server = FakeOpenAI().start()
    yield server
    server.stop()


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
def app(app_config, fake):
    app = create_app(app_config)
    yield app
    with app.app_context():
        db.session.remove()
        for table in TABLES:
            db.session.execute(text(f"DELETE FROM {table}"))
        db.session.commit()
        db.engine.dispose()


@pytest.fixture
def make_app_with(app_config):
    """make_app_with(**settings) -> (test client, auth headers) of another app on the test
    database; its rows are deleted and its engine disposed afterwards."""
    apps = []

    def make(**overrides):
        other = create_app(dict(app_config, **overrides))
        apps.append(other)
        return other.test_client(), {"Authorization": f"Bearer {make_key(other)}"}

    yield make
    for other in apps:
        with other.app_context():
            db.session.remove()
            for table in TABLES:
                db.session.execute(text(f"DELETE FROM {table}"))
            db.session.commit()
            db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def make_key(app, tenant="default", name="test"):
    with app.app_context():
        return create_api_key(name, tenant)[1]


@pytest.fixture
def api_key(app):
    return make_key(app)


@pytest.fixture
def auth(api_key):
    """Headers that authenticate as tenant "default"."""
    return {"Authorization": f"Bearer {api_key}"}


@pytest.fixture
def other_auth(app):
    """Headers of a key of another tenant."""
    return {"Authorization": f"Bearer {make_key(app, tenant='other')}"}


@pytest.fixture
def live_server(migrated, fake_server, tmp_path):
    """start(workers=2, **env) runs the real gunicorn (tests/live_server.py) on the test database
    (SQLite: a fresh file); after the test it is killed and its rows are deleted."""
    servers = []

    def start(workers=2, **env):
        postgresql = migrated.startswith("postgresql")  # already migrated; SQLite: a new file, migrated by it
        url = migrated if postgresql else f"sqlite:///{tmp_path}/live.sqlite3"
        # The load tests send far more than one key's RATELIMIT_DEFAULT; test_limits.py covers that.
        settings = {"ASSISTANTS_SECRET_KEYS": SECRET_KEYS, "OPENAI_BASE_URL": fake_server.base_url,
                    "OPENAI_TIMEOUT": "5", "OPENAI_MAX_RETRIES": "0", "RATELIMIT_DEFAULT": "1000000 per minute",
                    "PROVIDER_ALLOWED_HOSTS": "127.0.0.1", **env}
        servers.append(LiveServer(url, settings, workers=workers, log_path=tmp_path / "gunicorn.log",
                                  migrate=not postgresql))
        return servers[-1].start()

    yield start
    for server in servers:
        server.stop()
    if migrated.startswith("postgresql"):
        app = create_app({"TESTING": True, "DATABASE_URL": migrated, "ASSISTANTS_SECRET_KEYS": SECRET_KEYS})
        with app.app_context():
            for table in TABLES:
                db.session.execute(text(f"DELETE FROM {table}"))
            db.session.commit()
            db.engine.dispose()
