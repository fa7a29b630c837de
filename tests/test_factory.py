"""create_app's configuration layers and what it does on a first run: secret keys generated into
instance/ when none are set, a clear error for malformed ones, and /health when the database is down."""
import json
import os
import stat

import flask
import pytest
import sqlalchemy
from cryptography.fernet import Fernet
from sqlalchemy import event, text
from werkzeug.routing import Map, Rule

import assistants_app
from assistants_app import config
from assistants_app.crypto import CredentialCipher
from assistants_app.database import db
from assistants_app.routing import LazyBuildRule

from .helpers import app_on


@pytest.fixture
def instance(tmp_path, monkeypatch):
    """create_app's instance/ folder, in tmp_path instead of the repository's."""
    folder = tmp_path / "instance"

    def flask_in_tmp(name, **options):
        return flask.Flask(name, instance_path=str(folder), **options)

    monkeypatch.setattr(assistants_app, "Flask", flask_in_tmp)
    return folder


def test_first_run_generates_the_secret_keys_into_instance(instance):
    with app_on("sqlite://", ASSISTANTS_SECRET_KEYS=None) as first:
        ciphertext = first.extensions["credential_cipher"].encrypt("sk-provider")
    keys_file = instance / "secret_keys"
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600  # only the service's user reads it
    [key] = keys_file.read_text().split()
    Fernet(key.encode())  # a real Fernet key
    assert os.listdir(instance) == ["secret_keys"]  # nothing half-written left beside it
    # Every later start (another worker, a restart) reads the same key: what was stored stays readable.
    with app_on("sqlite://", ASSISTANTS_SECRET_KEYS=None) as second:
        assert second.extensions["credential_cipher"].decrypt(ciphertext) == "sk-provider"
    assert keys_file.read_text().split() == [key]


def test_configured_secret_keys_write_nothing_into_instance(instance):
    with app_on("sqlite://", ASSISTANTS_SECRET_KEYS=Fernet.generate_key().decode()):
        pass
    assert not (instance / "secret_keys").exists()


# Named: a generated key in a test's name would differ in each pytest-xdist worker, which must collect alike.
@pytest.mark.parametrize("value", ["not-a-fernet-key", f"{Fernet.generate_key().decode()},short"],
                         ids=["not-a-key", "a-key-then-a-short-one"])
def test_malformed_secret_keys_fail_fast_naming_the_setting(make_app, value):
    with pytest.raises(RuntimeError) as caught:
        make_app(ASSISTANTS_SECRET_KEYS=value)
    assert "ASSISTANTS_SECRET_KEYS" in str(caught.value)
    assert "not-a-fernet-key" not in str(caught.value)  # a secret, however wrong, is not repeated
    with pytest.raises(RuntimeError, match="ASSISTANTS_SECRET_KEYS"):
        CredentialCipher([])


@pytest.fixture
def database_down(make_app, tmp_path):
    return make_app(DATABASE_URL=f"sqlite:///{tmp_path}/no/such/folder/db.sqlite3")


def test_health_is_503_when_the_database_does_not_answer(database_down):
    response = database_down.test_client().get("/health")
    assert response.status_code == 503 and response.json["status"] == "Service Unavailable"


def test_health_503_body_is_the_error_contract(database_down):
    response = database_down.test_client().get("/health")
    assert response.json == {"code": 503, "status": "Service Unavailable",
                             "message": "The database does not answer."}


def test_environment_settings_are_parsed_to_their_types():
    settings = config.from_environment({"OPENAI_TIMEOUT": "2.5", "OPENAI_MAX_RETRIES": "3",
                                        "LOG_CONTENT": "yes", "REDIS_URL": "", "UNRELATED": "x"})
    assert settings == {"OPENAI_TIMEOUT": 2.5, "OPENAI_MAX_RETRIES": 3, "LOG_CONTENT": True}
    with pytest.raises(RuntimeError, match="OPENAI_MAX_RETRIES='many' is not a valid int"):
        config.from_environment({"OPENAI_MAX_RETRIES": "many"})


def test_every_layer_gives_a_setting_its_type_once(make_app, tmp_path):
    """instance/config.py may write a number as a string: create_app parses it (the code reads config["X"]
    with no conversion); a value that is not its setting's type stops the start with the setting's name."""
    app = make_app(OPENAI_TIMEOUT="7", OPENAI_MAX_RETRIES=1, LOG_CONTENT="yes", MAX_REPLY_CHARS="")
    assert (app.config["OPENAI_TIMEOUT"], app.config["LOG_CONTENT"]) == (7.0, True)
    assert app.config["MAX_REPLY_CHARS"] == config.DefaultConfig.MAX_REPLY_CHARS
    assert isinstance(app.config["OPENAI_TIMEOUT"], float)
    with pytest.raises(RuntimeError, match="OPENAI_MAX_RETRIES='two' is not a valid int"):
        make_app(OPENAI_MAX_RETRIES="two")
    with pytest.raises(RuntimeError, match=r"TENANT_MAX_ACTIVE_RUNS=\[1\] is not a valid int"):
        make_app(TENANT_MAX_ACTIVE_RUNS=[1])


def test_the_test_mapping_wins_over_the_environment(make_app, monkeypatch):
    monkeypatch.setenv("OPENAI_TIMEOUT", "42")
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example, https://b.example")
    assert make_app().config["OPENAI_TIMEOUT"] == 5.0  # app_config's
    response = make_app().test_client().get("/health", headers={"Origin": "https://b.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://b.example"


def test_a_burst_of_requests_reuses_the_pools_connections(make_app):
    """A gevent worker serves many requests at once, each holding a database connection: the pool keeps
    DATABASE_POOL_SIZE of them, so the next burst as large opens none (SQLAlchemy's default pool of 5 closed
    every connection past the fifth at its return: a PostgreSQL backend started per request under load)."""
    app = make_app(DATABASE_POOL_SIZE=12, DATABASE_MAX_OVERFLOW=3)
    opened = []
    with app.app_context():
        engine = db.engine
        event.listen(engine, "connect", lambda *args: opened.append(1))
        assert (engine.pool.size(), engine.pool._max_overflow) == (12, 3)
        for burst in range(2):
            held = [engine.connect() for _ in range(12)]
            for connection in held:
                connection.execute(text("SELECT 1"))
                connection.close()
            assert len(opened) == 12, burst  # the second burst opened none
        with engine.connect() as first:  # one at a time: the connection given back last, every time
            last = first.connection.dbapi_connection
        for _ in range(3):
            with engine.connect() as again:
                assert again.connection.dbapi_connection is last
        with pytest.raises(sqlalchemy.exc.TimeoutError):  # 15 at most: the 16th waits, then fails
            held = [engine.connect() for _ in range(15)]
            try:
                engine.pool._timeout = 0.1
                engine.connect()
            finally:
                for connection in held:
                    connection.close()


def test_an_in_memory_database_keeps_its_one_connection():
    with app_on("sqlite://") as app, app.app_context():  # flask-sqlalchemy's StaticPool takes no size
        assert type(db.engine.pool).__name__ == "StaticPool" and db.session.scalar(text("SELECT 1")) == 1


def test_by_default_a_key_has_no_request_limit(app, client, auth):
    """make run ships without RATELIMIT_DEFAULT: one backend key serves many users, and no
    Limiter runs its hooks on every request for nothing."""
    assert app.extensions["rate_limiter"] is None
    statuses = {client.get("/assistants", headers=auth).status_code for _ in range(700)}
    assert statuses == {200}  # 700 in a minute: past the 600 per minute this shipped with before


def test_every_route_builds_its_url_as_werkzeug_would(app):
    """routing.LazyBuildRule compiles a rule's URL builders when first used: every route's URL, with and
    without values its path does not name (a query string), is what werkzeug's own rule builds."""
    plain = Map([Rule(rule.rule, endpoint=rule.endpoint, methods=rule.methods, websocket=rule.websocket)
                 for rule in app.url_map.iter_rules()]).bind("localhost")
    ours = app.url_map.bind("localhost")
    assert {type(rule) for rule in app.url_map.iter_rules() if rule.endpoint != "static"} == {LazyBuildRule}
    built = 0
    for rule in app.url_map.iter_rules():
        values = {name: f"v-{name}" for name in rule.arguments}
        for extra in ({}, {"limit": "5", "after": "a b"}):
            expected = plain.build(rule.endpoint, {**values, **extra}, method=sorted(rule.methods)[0])
            assert ours.build(rule.endpoint, {**values, **extra}, method=sorted(rule.methods)[0]) == expected
            built += 1
    assert built == 2 * len(list(app.url_map.iter_rules())) > 100


def test_the_deferred_document_is_the_one_flask_smorest_writes_at_once(app):
    """spec.DeferredDocApi writes the document when it is first read: it is, byte for byte, the one
    flask-smorest's own Api writes as the app is made, from the same blueprints and settings."""
    from flask_smorest import Api

    from assistants_app import API_SPEC_OPTIONS, extensions
    from assistants_app.routes import BLUEPRINTS
    from assistants_app.spec import SharedStatusesPlugin

    eager_app = flask.Flask("eager")
    eager_app.config.update({name: value for name, value in app.config.items()
                             if name.startswith(("API_", "OPENAPI_"))}, API_SPEC_OPTIONS=API_SPEC_OPTIONS)
    eager = Api(spec_kwargs={"extra_plugins": [SharedStatusesPlugin()]})
    eager.DEFAULT_ERROR_RESPONSE_NAME = extensions.api.DEFAULT_ERROR_RESPONSE_NAME
    eager.init_app(eager_app)
    for blueprint, options in BLUEPRINTS:
        eager.register_blueprint(blueprint, **options)
    written = json.dumps(eager.spec.to_dict())
    assert json.dumps(app.test_client().get("/openapi.json").json) == written and len(written) > 100_000
