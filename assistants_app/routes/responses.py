"""The Responses API at /v1/responses, stateful over any provider (services/responses/): create (blocking,
streamed, or in the background), retrieve (or replay a background response's events), delete, cancel,
input items, input token counts, compaction. Errors in OpenAI's shape. (Its WebSocket mode, at the same
path: routes/responses_socket.py.)"""
from flask.views import MethodView
from flask_smorest import Blueprint

from .. import streaming
from ..errors import OPENAI
from ..extensions import db
from ..schemas.compaction import CompactionSchema, CompactSchema
from ..schemas.v2.common import DeletedSchema
from ..schemas.responses import (InputTokensSchema, ItemListQuerySchema, ItemListSchema,
                                 ResponseContextSchema, ResponseCreateSchema, ResponseObjectSchema,
                                 ResponseRetrieveQuerySchema)
from ..services.responses import compact, run, store, tokens
from ..spec import error_docs

blp = Blueprint("responses", __name__, url_prefix="/v1",
                description="The OpenAI Responses API: responses kept here, previous_response_id, "
                            "background mode, over any provider.")
OPENAI.register(blp)
documents = error_docs(blp)
STREAMED = "The response; with stream: true, text/event-stream of the Responses events."


@blp.route("/responses")
class Responses(MethodView):
    @blp.arguments(ResponseCreateSchema(), error_status_code=400)
    @blp.response(200, ResponseObjectSchema, description=STREAMED)
    @documents(400, 404, 409, 429, 502, 504)
    def post(self, fields):
        """Create a response"""
        answer = run.create(fields)
        if isinstance(answer, dict):
            db.session.commit()
            return answer
        return streaming.response(answer)


@blp.route("/responses/input_tokens")
class InputTokens(MethodView):
    @blp.arguments(ResponseContextSchema(), error_status_code=400)
    @blp.response(200, InputTokensSchema)
    @documents(400, 404)
    def post(self, fields):
        """Count a request's input tokens (an estimate: about 4 characters a token)"""
        return tokens.count(fields)


@blp.route("/responses/compact")
class ResponseCompact(MethodView):
    @blp.arguments(CompactSchema(), error_status_code=400)
    @blp.response(200, CompactionSchema)
    @documents(400, 404, 429, 502, 504)
    def post(self, fields):
        """Compact a context into one compaction item (a summary by the model), to send as later input"""
        return compact.compact(fields)


@blp.route("/responses/<response_id>")
class ResponseById(MethodView):
    @blp.arguments(ResponseRetrieveQuerySchema(), location="query", error_status_code=400)
    @blp.response(200, ResponseObjectSchema, description="The response; with stream=true (background ones), "
                                                         "its events after starting_after.")
    @documents(400)
    def get(self, query, response_id):
        """Retrieve a response, or replay a background response's events"""
        row = store.get(response_id)
        if not query["stream"]:
            return store.present(row)
        events = store.replay_stored(row, query["starting_after"])
        db.session.commit()
        return streaming.response(events)

    @blp.response(200, DeletedSchema)
    def delete(self, response_id):
        """Delete a response (its conversation keeps its items)"""
        deleted = store.delete(store.get(response_id))
        db.session.commit()
        return deleted


@blp.route("/responses/<response_id>/cancel")
class ResponseCancel(MethodView):
    @blp.response(200, ResponseObjectSchema)
    @documents(400)
    def post(self, response_id):
        """Cancel a background response"""
        return store.present(store.cancel(store.get(response_id)))


@blp.route("/responses/<response_id>/input_items")
class ResponseInputItems(MethodView):
    @blp.arguments(ItemListQuerySchema(), location="query", error_status_code=400)
    @blp.response(200, ItemListSchema)
    def get(self, params, response_id):
        """List a response's input items"""
        return store.input_items(store.get(response_id), params)
