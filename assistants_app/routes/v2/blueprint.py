"""The Assistants API v2 blueprint, at /v1: OpenAI's paths, objects and error shape."""
from flask_smorest import Blueprint

from ...errors import OPENAI

blp = Blueprint("assistants_v2", __name__, url_prefix="/v1",
                description="The OpenAI Assistants API v2, wire-compatible: point an openai client's base_url "
                            "at /v1 (the OpenAI-Beta: assistants=v2 header is accepted).")

OPENAI.register(blp, path_prefix="/v1")  # every /v1 answer, an unknown path's too


def documents(*statuses):
    """alt_response for each status, in the OpenAI error shape."""
    descriptions = {400: "Invalid request (the parameter is named).", 404: "No such object.",
                    409: "The object changed meanwhile.", 429: "The provider rate-limited the request.",
                    502: "The provider failed.", 504: "The provider did not answer in time."}

    def decorate(view):
        for status in statuses:
            view = blp.alt_response(status, description=descriptions[status])(view)
        return view
    return decorate
