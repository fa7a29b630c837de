"""Every extension is created once here; create_app() calls each init_app."""
from flask import current_app, request
from flask_cors import CORS
from flask_limiter import Limit, Limiter
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from .openai_adapter import OpenAIAdapter
from .spec import SharedStatusesPlugin

# Stable constraint names, so Alembic migrations read the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
api = Api(spec_kwargs={"extra_plugins": [SharedStatusesPlugin()]})
# No catch-all `default` response: each operation lists its statuses (spec.py adds the shared ones).
api.DEFAULT_ERROR_RESPONSE_NAME = None
cors = CORS()
openai_adapter = OpenAIAdapter()


def rate_limit_key() -> str:
    """Each API key has its own budget (by its digest); requests without one, its address's."""
    from .auth import PUBLIC_BLUEPRINTS, bearer_key, digest  # auth imports this module

    key = None if request.blueprint in PUBLIC_BLUEPRINTS else bearer_key()
    return f"key:{digest(key)}" if key else f"addr:{request.remote_addr}"


# One budget per key across all routes (a shared scope), RATELIMIT_DEFAULT read per request so
# that each app's own value holds. Storage: RATELIMIT_STORAGE_URI, derived from REDIS_URL.
limiter = Limiter(
    key_func=rate_limit_key,
    default_limits=[Limit(lambda: current_app.config["RATELIMIT_DEFAULT"], scope="per-key", shared=True)],
    key_prefix="assistants_app",
    # Redis down: limit in each process's memory meanwhile, never answer 500 for it.
    in_memory_fallback_enabled=True,
    swallow_errors=True,
)


@limiter.request_filter
def _not_limited() -> bool:
    return request.blueprint == "health"  # load balancers probe it at will
