"""Configuration layers: these defaults, then instance/config.py, then the environment,
then the test mapping given to create_app(); checked() then makes every typed setting its type, once
(whichever layer set it), so the code reads app.config["X"] with no default and no conversion of its own."""
import os

# Settings read from the environment, with the type each one is parsed as (and checked as, from any layer).
ENVIRONMENT_SETTINGS = {
    "DATABASE_URL": str,
    "DATABASE_POOL_SIZE": int,
    "DATABASE_MAX_OVERFLOW": int,
    "OPENAI_API_KEY": str,
    "OPENAI_BASE_URL": str,
    "OPENAI_API": str,
    "OPENAI_TIMEOUT": float,
    "OPENAI_CONNECT_TIMEOUT": float,
    "OPENAI_MAX_RETRIES": int,
    "OPENAI_RETRY_BACKOFF": float,
    "ASSISTANTS_SECRET_KEYS": str,
    "ASSISTANTS_BIND": str,
    "ASSISTANTS_MAX_BODY_BYTES": int,
    "REDIS_URL": str,
    "MODELS_CACHE_TTL": float,
    "STATUS_TIMEOUT": float,
    "RATELIMIT_DEFAULT": str,
    "AUTH_FAILURE_LIMIT": str,
    "PROXY_FIX_HOPS": int,
    "LOG_CONTENT": bool,
    "CORS_ORIGINS": str,
    "LOG_LEVEL": str,
    "PROVIDER_ALLOWED_HOSTS": str,
    "PROVIDER_MAX_REPLY_BYTES": int,
    "PROVIDER_MAX_TURN_BYTES": int,
    "MODELS_CACHE_MAX_BYTES": int,
    "METRICS_PUBLIC": bool,
    "METRICS_TOKEN": str,
    "SQLITE_BACKUPS": int,
    "MAX_REPLY_CHARS": int,
    "MAX_PAGE_BYTES": int,
    "TENANT_MAX_ACTIVE_RUNS": int,
    "TENANT_MAX_CONCURRENT_TURNS": int,
    "TENANT_MAX_STORED_BYTES": int,
    "FILE_MAX_BYTES": int,
    "VECTOR_CACHE_MAX_BYTES": int,
    "EMBEDDING_MODEL": str,
    "EMBEDDING_DIMENSIONS": int,
}


class DefaultConfig:
    # The SQLite file lives in instance/; create_app fills in the absolute path.
    DATABASE_URL = None
    # No pool_pre_ping: database.py pings only the connections that sat idle (it says why).
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    # Each worker's pool of database connections (a file or a server; not an in-memory SQLite database).
    # A gevent worker runs hundreds of requests at once, each holding a connection while it reads or
    # writes. SQLAlchemy's default (5 kept, 10 more opened in a burst) closed every connection past the
    # fifth when it came back and opened the next one again: a PostgreSQL backend started per request
    # under load (421 in 6 s at 16 clients). The same 15 at most, all kept: a burst past them waits for
    # one (up to 30 s) instead of opening more. Keep hosts x workers x (size + overflow) under the
    # server's max_connections (100 by default on PostgreSQL).
    DATABASE_POOL_SIZE = 15
    DATABASE_MAX_OVERFLOW = 0
    OPENAI_API_KEY = None
    OPENAI_BASE_URL = None
    # Backend for the app-default credential; None picks by base URL.
    OPENAI_API = None
    OPENAI_TIMEOUT = 120.0
    OPENAI_CONNECT_TIMEOUT = 5.0
    OPENAI_MAX_RETRIES = 2
    # First retry waits this long (plus jitter), doubling after each.
    OPENAI_RETRY_BACKOFF = 0.25
    ASSISTANTS_SECRET_KEYS = None
    ASSISTANTS_BIND = "127.0.0.1:8000"
    ASSISTANTS_MAX_BODY_BYTES = 1024 * 1024
    REDIS_URL = None
    MODELS_CACHE_TTL = 60.0
    # The in-process cache of provider answers (without REDIS_URL) holds at most this much.
    MODELS_CACHE_MAX_BYTES = 32 * 1024 * 1024
    # Tenants' credentials may reach public addresses only, plus these (host, host:port or CIDR,
    # comma-separated). The service's own provider (OPENAI_BASE_URL) is always allowed.
    PROVIDER_ALLOWED_HOSTS = ""
    # Provider replies past these sizes are cut off with a 502: a lookup's (model lists...) and a turn's.
    PROVIDER_MAX_REPLY_BYTES = 8 * 1024 * 1024
    PROVIDER_MAX_TURN_BYTES = 64 * 1024 * 1024
    # The longest reply stored (characters; the v2 API's message limit): past it a conversations or agents
    # turn fails (502, nothing stored), a v2 run ends incomplete with the reply cut there.
    MAX_REPLY_CHARS = 1_000_000
    # A page of messages (v2 lists, /openai/threads/{id}/messages) stops before this many bytes of content.
    MAX_PAGE_BYTES = 4 * 1024 * 1024
    # Background work of one tenant in progress at once, across workers and hosts; the rest stays queued.
    TENANT_MAX_ACTIVE_RUNS = 32
    # Turns of one tenant in flight in one worker (they share its provider connections); past it, 429.
    TENANT_MAX_CONCURRENT_TURNS = 256
    # Bytes of message text one tenant may store (0: no quota); past it new turns and messages get 429.
    TENANT_MAX_STORED_BYTES = 0
    # The largest file POST /v1/files keeps (its bytes live in the database); past it, 413.
    FILE_MAX_BYTES = 32 * 1024 * 1024
    # The vectors of recently searched vector stores each worker keeps in memory (least recently used go
    # first).
    VECTOR_CACHE_MAX_BYTES = 256 * 1024 * 1024
    # The app default provider's embedding model for new vector stores, and the dimensions asked of it; unset,
    # text-embedding-3-large at 256 dimensions on api.openai.com, nomic-embed-text on another OPENAI_BASE_URL.
    EMBEDDING_MODEL = None
    EMBEDDING_DIMENSIONS = None
    STATUS_TIMEOUT = 2.0
    # flask db upgrade/downgrade copies a SQLite database into backups/ beside it first, keeping this
    # many copies (0: none).
    SQLITE_BACKUPS = 5
    # Requests per API key across all routes, e.g. "600 per minute"; unset, no request limit: the usual
    # deployment is one backend key for many users, which a per-key limit would throttle.
    RATELIMIT_DEFAULT = ""
    # Wrong API keys allowed per client address; past it, 429 (valid keys keep working).
    AUTH_FAILURE_LIMIT = "20 per minute"
    # Reverse proxies in front of the service (nginx, Caddy, a load balancer): their X-Forwarded-For,
    # -Proto, -Host and -Port headers are trusted this many hops deep. 0: none (the headers are ignored).
    PROXY_FIX_HOPS = 0
    LOG_CONTENT = False
    # Browser frontends on other origins may call the API: auth is a Bearer header, never a
    # cookie, so allowing any origin exposes nothing. Comma-separated origins to narrow it.
    CORS_ORIGINS = "*"
    LOG_LEVEL = "INFO"
    # GET /metrics is the operator's: the scraper sends "Authorization: Bearer <METRICS_TOKEN>" (tenants'
    # API keys are refused). METRICS_PUBLIC opens it without any credential (a scraper on a private
    # network). With neither, /metrics answers 401.
    METRICS_TOKEN = None
    METRICS_PUBLIC = False

    API_TITLE = "assistants_app"
    API_VERSION = "1.0"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "docs"
    # Served by this app from the swagger-ui-bundle package: the docs page needs no CDN.
    OPENAPI_SWAGGER_UI_URL = "/docs/assets/"


def parse_bool(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def from_environment(environ=os.environ) -> dict:
    """The settings present in the environment, parsed to their types."""
    settings = {}
    for name, kind in ENVIRONMENT_SETTINGS.items():
        raw = environ.get(name)
        if raw is None or raw == "":
            continue
        settings[name] = parse_bool(raw) if kind is bool else _parsed(name, kind, raw)
    return settings


def checked(settings) -> None:
    """Each typed setting of ``settings`` (the app's config, every layer applied) as its type: a number
    given as a string in instance/config.py is parsed; a value that is not one is a clear error at start."""
    for name, kind in ENVIRONMENT_SETTINGS.items():
        value = settings.get(name)
        if value is None or isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            continue
        if isinstance(value, str):
            if value == "":
                settings[name] = getattr(DefaultConfig, name, None) if kind is not str else value
                continue
            settings[name] = parse_bool(value) if kind is bool else _parsed(name, kind, value)
        elif kind is float and isinstance(value, int) and not isinstance(value, bool):
            settings[name] = float(value)
        else:
            raise RuntimeError(f"{name}={value!r} is not a valid {kind.__name__}")


def _parsed(name: str, kind, raw: str):
    try:
        return kind(raw)
    except ValueError:
        raise RuntimeError(f"{name}={raw!r} is not a valid {kind.__name__}") from None
