"""Every extension is created once here; create_app() calls each init_app."""
from flask_cors import CORS
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
