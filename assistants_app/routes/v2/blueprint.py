"""The Assistants API v2 blueprint, at /v1: OpenAI's paths, objects and error shape."""
from flask_smorest import Blueprint

from ...errors import OPENAI
from ...spec import error_docs

blp = Blueprint("assistants_v2", __name__, url_prefix="/v1",
                description="The OpenAI Assistants API v2, wire-compatible: point an openai client's base_url "
                            "at /v1 (the OpenAI-Beta: assistants=v2 header is accepted).")

OPENAI.register(blp, path_prefix="/v1")  # every /v1 answer, an unknown path's too


# alt_responses in the OpenAI error shape (spec.SharedStatusesPlugin writes /v1's so).
documents = error_docs(blp)
