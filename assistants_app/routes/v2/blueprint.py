"""The Assistants API v2 blueprint, at /v1: OpenAI's paths, objects and error shape."""
from flask_smorest import Blueprint
from webargs.flaskparser import FlaskParser
from webargs.multidictproxy import MultiDictProxy
from werkzeug.datastructures import CombinedMultiDict

from ...errors import OPENAI
from ...spec import error_docs


class MultipartParser(FlaskParser):
    """FlaskParser, and location="multipart": a multipart body's fields and files in one schema (POST
    /v1/files sends both), documented as one multipart/form-data request body."""

    def load_multipart(self, req, schema):
        return MultiDictProxy(CombinedMultiDict([req.form, req.files]), schema)

    def __init__(self):
        super().__init__()
        self.__location_map__ = {**self.__location_map__, "multipart": "load_multipart"}


blp = Blueprint("assistants_v2", __name__, url_prefix="/v1",
                description="The OpenAI Assistants API v2, wire-compatible: point an openai client's "
                            "base_url at /v1 (the OpenAI-Beta: assistants=v2 header is accepted).")

blp.ARGUMENTS_PARSER = MultipartParser()
blp.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {**Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
                                             "multipart": "multipart/form-data"}
OPENAI.register(blp, path_prefix="/v1")  # every /v1 answer, an unknown path's too


# alt_responses in the OpenAI error shape (spec.SharedStatusesPlugin writes /v1's so).
documents = error_docs(blp)
