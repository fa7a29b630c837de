"""Blueprints, registered in this order by create_app()."""
from .agents import assistants_blp as agents_as_assistants, blp as agents
from .assistants import blp as assistants
from .credentials import blp as credentials
from .openai_routes import blp as openai
from .playground import blp as playground
from .public import blp as health, assets

BLUEPRINTS = (health, credentials, assistants, agents, agents_as_assistants, openai)
FLASK_BLUEPRINTS = (assets, playground)
