"""The Assistants API v2 blueprint, at /v1: OpenAI's paths, objects and error shape."""
from flask_smorest import Blueprint
from webargs.flaskparser import FlaskParser
from webargs.multidictproxy import MultiDictProxy
from werkzeug.datastructures import CombinedMultiDict

from ...errors import OPENAI


class MultipartParser(FlaskParser):
    """FlaskParser, and location="multipart": a multipart body's fields and files in one schema (POST
    /v1/files sends both), documented as one multipart/form-data request body."""

    def load_multipart(self, req, schema):
        return MultiDictProxy(CombinedMultiDict([req.form, req.files]), schema)

    def __init__(self):
        super().__init__()
        self.__location_map__ = {**self.__location_map__, "multipart": "load_multipart"}

blp = Blueprint("assistants_v2", __name__, url_prefix="/v1",
                description="The OpenAI Assistants API v2, wire-compatible: point an openai client's base_url "
                            "at /v1 (the OpenAI-Beta: assistants=v2 header is accepted).")

blp.ARGUMENTS_PARSER = MultipartParser()
blp.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {**Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
                                             "multipart": "multipart/form-data"}
OPENAI.register(blp)


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
