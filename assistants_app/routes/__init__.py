"""Blueprints, registered in this order by create_app(): (blueprint, registration options).
The agents API's blueprint is registered twice, under /agents and under /assistants; the
Assistants API v2 is at /v1."""
from . import agents
from .assistants import blp as assistants
from .credentials import blp as credentials
from .openai_routes import blp as openai
from .playground import blp as playground
from .public import blp as health, assets
from .responses import blp as responses_api
from .responses_socket import blp as responses_socket
from . import conversations  # noqa: F401 - it adds its routes to responses_api
from .usage import blp as usage
from .v2 import blp as assistants_v2

BLUEPRINTS = (
    (health, {}),
    (credentials, {}),
    (assistants, {}),
    *((agents.blp, {"name": name, "url_prefix": prefix}) for name, prefix in agents.MOUNTS),
    (openai, {}),
    (usage, {}),
    (assistants_v2, {}),
    (responses_api, {}),
)
FLASK_BLUEPRINTS = (assets, playground, responses_socket)
