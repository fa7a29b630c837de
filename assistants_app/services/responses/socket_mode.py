"""The Responses API's WebSocket mode (routes/responses_socket.py): on one connection, responses one at a
time. Each text message is {"type": "response.create", ...} with a POST /v1/responses body less stream,
stream_options and background; the answer is that response's events, the ones its SSE stream carries,
each one JSON text message, in order, the last response.completed (.incomplete, .failed). A request
refused before its response began answers one error event instead -- {"type": "error", "status",
"error": {"type", "code", "message", "param"}} -- and the connection stays open for the next.

It is POST /v1/responses' pipeline (run.create): the key's tenant, budget, limits and usage; stored
responses continue from the database. A store:false response is kept for this connection only (its last
KEPT), so that a later response.create on it may continue it by previous_response_id with only new input;
on another connection that id is previous_response_not_found, and so it is here after a continuation of
it failed (the failed turn forgets it).

    serve(ws)    # until the client closes (simple_websocket's ConnectionClosed ends it)"""
import itertools
import json
import logging
from typing import Iterator

from flask_limiter import RateLimitExceeded
from marshmallow import ValidationError

from ...database import assert_released
from ...errors import OPENAI, ServiceError, as_service_error
from ...errors.shapes import rate_limited
from ...extensions import db
from ...openai_adapter import ProviderError
from ...ratelimit import count_again
from ...schemas.responses import ResponseCreateSchema
from . import run

log = logging.getLogger("assistants_app.responses")
KEPT = 16  # store:false responses a connection keeps for continuation, the latest
NOT_SENT = ("stream", "stream_options", "background")  # HTTP's, not WebSocket mode's


def serve(ws) -> None:
    kept: dict = {}
    for number in itertools.count():
        message = ws.receive()
        events = answer(message, kept, first=number == 0)
        try:
            for event in events:
                assert_released("while a WebSocket client reads a response")
                ws.send(json.dumps(event))
        finally:
            events.close()


def answer(message, kept: dict, first: bool = False) -> Iterator[dict]:
    """One message's events: its response's, or one error event."""
    fields = None
    try:
        fields = _fields(message)
        if not first:  # the connection's request counted the first
            count_again()
        events = run.create({**fields, "stream": True}, kept, as_events=True)
    except (ServiceError, ProviderError, RateLimitExceeded) as err:
        db.session.rollback()
        _forget(kept, fields)
        yield error_event(err)
        return
    except Exception:  # a fault of this service's: the connection and its other responses go on
        log.exception("unhandled error in a WebSocket response.create")
        db.session.rollback()
        _forget(kept, fields)
        yield error_event(ServiceError(500, "An internal error occurred."))
        return
    last = None
    try:
        for last in events:
            yield last
    finally:
        events.close()
    if last is not None and last["type"] == "response.failed":
        _forget(kept, fields)
    while len(kept) > KEPT:
        kept.pop(next(iter(kept)))


def _fields(message) -> dict:
    try:
        body = json.loads(message)
    except (ValueError, TypeError, RecursionError):
        raise ServiceError(400, 'A message is a JSON object: {"type": "response.create", ...}.') from None
    if not isinstance(body, dict) or body.get("type") != "response.create":
        raise ServiceError(400, "The request is invalid.", {"json": {"type": [
            'Only response.create messages are taken: {"type": "response.create", ...}.']}})
    for name in NOT_SENT:
        if name in body:
            raise ServiceError(400, "The request is invalid.", {"json": {name: [
                "Not sent in WebSocket mode: every response streams its events on the connection."]}})
    try:
        return ResponseCreateSchema().load({name: value for name, value in body.items() if name != "type"})
    except ValidationError as err:
        raise ServiceError(400, "The request is invalid.", {"json": err.messages}) from None


def _forget(kept: dict, fields: dict | None) -> None:
    if fields and fields.get("previous_response_id"):
        kept.pop(fields["previous_response_id"], None)


def error_event(err: Exception) -> dict:
    """The error event of a request refused, in OpenAI's error shape; code is never null here."""
    if isinstance(err, RateLimitExceeded):
        message, headers = rate_limited(err)
        err = ServiceError(429, message, headers=headers)
    code = getattr(err, "openai_code", None)
    err = as_service_error(err)
    status = 400 if err.status == 422 else err.status
    error = OPENAI.body(err.status, err.message, err.errors)["error"]
    error["code"] = code or error["code"] or error["type"]
    error["param"] = error["param"] or getattr(err, "openai_param", None)
    return {"type": "error", "status": status, "error": error}
