"""assistants_app: a self-hosted assistants gateway in front of OpenAI-compatible providers."""
import os

from flask import Flask
from sqlalchemy.engine import make_url
from werkzeug.middleware.proxy_fix import ProxyFix
from . import config

API_SPEC_OPTIONS = {
    "info": {"description": "Keep AI assistants, check they can answer, and chat with them."},
    "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
    "security": [{"bearerAuth": []}],
}


def create_app(test_config: dict | None = None) -> Flask:
    # Imported here, not above: worker_exit.py needs only configured_app() and starts in seconds.
    from . import cli, database, errors, extensions, services
    from .services import background, tenant_limits
    from .services.retrieval import vectors
    from .fast_json import JSONProvider
    from .routes import BLUEPRINTS, FLASK_BLUEPRINTS
    from .routing import LazyBuildRule

    app = configured_app(test_config)
    app.url_rule_class = LazyBuildRule  # before any route: builders compiled when first used
    _behind_proxies(app)
    app.json = JSONProvider(app)  # orjson writes the answers (fast_json.py)
    app.json.sort_keys = False  # answers keep their schemas' field order (Flask 3 ignores JSON_SORT_KEYS)

    extensions.db.init_app(app)
    database.init_engine(app)
    migrations = os.path.join(os.path.dirname(__file__), "migrations")
    extensions.migrate.init_app(app, extensions.db, directory=migrations, render_as_batch=True)
    extensions.secret_keys.init_app(app)
    # Every provider call gives the request's database connection back first (services.release_connection).
    extensions.openai_adapter.init_app(app, before_call=services.release_connection)
    extensions.provider_answers.init_app(app)
    app.config["API_SPEC_OPTIONS"] = API_SPEC_OPTIONS
    extensions.api.init_app(app)
    for blueprint, options in BLUEPRINTS:
        extensions.api.register_blueprint(blueprint, **options)
    for blueprint in FLASK_BLUEPRINTS:
        app.register_blueprint(blueprint)
    # flask-sock's WebSocket server: a message is held to what a request's body may be
    app.config.setdefault("SOCK_SERVER_OPTIONS",
                          {"max_message_size": app.config["ASSISTANTS_MAX_BODY_BYTES"]})
    errors.SERVICE.register(app)
    extensions.cors.init_app(
        app,
        origins=_cors_origins(app.config["CORS_ORIGINS"]),
        send_wildcard=True,
        expose_headers=["X-Pagination", "ETag", "Retry-After", "X-Request-Id"],
    )
    extensions.request_metrics.init_app(app)  # first: refused requests are counted and timed too
    extensions.request_log.init_app(app)  # before auth, so a refused request is logged too
    extensions.request_limits.init_app(app)  # an over-long URL or header: 414 / 431 before anything reads it
    extensions.rate_limits.init_app(app)  # before auth, so refused requests count too
    extensions.api_keys.init_app(app)
    tenant_limits.init_app(app)
    background.init_app(app)
    vectors.init_app(app)
    cli.init_app(app)
    return app


def configured_app(test_config: dict | None = None) -> Flask:
    """A Flask app with the service's configuration and nothing else: the layers, then the settings
    derived from them (SQLALCHEMY_DATABASE_URI...)."""
    app = Flask(__name__, instance_relative_config=True)
    _private_directory(app.instance_path)
    app.config.from_object(config.DefaultConfig)
    app.config.from_pyfile("config.py", silent=True)
    app.config.update(config.from_environment())
    if test_config:
        app.config.update(test_config)
    config.checked(app.config)
    _derive_settings(app)
    return app


def _derive_settings(app: Flask) -> None:
    """Turn the user-facing settings into the ones Flask and its extensions read."""
    url = app.config.get("DATABASE_URL") or "sqlite:///" + os.path.join(app.instance_path,
                                                                        "assistants.sqlite3")
    # psycopg 3 is the driver we ship; accept the usual spellings of a PostgreSQL URL.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix):]
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    options = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
    if url.startswith("sqlite"):
        options.setdefault("connect_args", {"timeout": 30})
        _private_sqlite_file(url)
    if not _in_memory(url):  # an in-memory SQLite database is one connection (flask-sqlalchemy's StaticPool)
        options.setdefault("pool_size", app.config["DATABASE_POOL_SIZE"])
        options.setdefault("max_overflow", app.config["DATABASE_MAX_OVERFLOW"])
        # The connection given back last is taken first: the others stay idle (pinged before their next use
        # and closed by the server's idle timeout) instead of all of them taking turns, each cold.
        options.setdefault("pool_use_lifo", True)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    app.config["MAX_CONTENT_LENGTH"] = app.config["ASSISTANTS_MAX_BODY_BYTES"]
    # Rate limits are counted in Redis when there is one (shared by workers and hosts). flask-limiter
    # keeps settings an app leaves out from the previous app: every app sets them all.
    app.config["RATELIMIT_STORAGE_URI"] = app.config.get("REDIS_URL") or "memory://"
    app.config.setdefault("RATELIMIT_ENABLED", True)
    app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"socket_timeout": 0.5, "socket_connect_timeout": 0.5})


def _behind_proxies(app: Flask) -> None:
    """Behind PROXY_FIX_HOPS reverse proxies, the client's address, scheme and host are the ones they
    forward (the rate limits and AUTH_FAILURE_LIMIT count by that address). Without, the headers are
    a client's to forge, so they are ignored."""
    hops = app.config["PROXY_FIX_HOPS"]
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)


def _private_directory(path: str) -> None:
    """instance/ holds the database and the secret keys: only the service's user may enter it."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    try:
        os.chmod(path, 0o700)
    except OSError:  # not ours to change (a mounted volume): its owner decides
        pass


def _in_memory(url: str) -> bool:
    """An in-memory SQLite database (flask-sqlalchemy gives it one connection, StaticPool, which takes
    no pool size)."""
    parsed = make_url(url)
    return parsed.drivername.startswith("sqlite") and (
        parsed.database in (None, "", ":memory:") or parsed.query.get("mode") == "memory")


def _private_sqlite_file(url: str) -> None:
    """Create the SQLite file readable by the service's user only (SQLite gives its -wal and
    -shm files the same mode); SQLite itself would create it world-readable."""
    path = url.split(":///", 1)[1].split("?", 1)[0] if ":///" in url else ""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(directory):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def _cors_origins(setting: str) -> str | list[str]:
    origins = [origin.strip() for origin in setting.split(",") if origin.strip()]
    return "*" if origins == ["*"] else origins
