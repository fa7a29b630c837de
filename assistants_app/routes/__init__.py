"""Blueprints, registered in this order by create_app()."""
from .assistants import blp as assistants
from .credentials import blp as credentials
from .openai_routes import blp as openai
from .public import blp as health, assets

BLUEPRINTS = (health, credentials, assistants, openai)
FLASK_BLUEPRINTS = (assets,)
