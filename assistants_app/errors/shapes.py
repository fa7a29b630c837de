"""How each API writes an error, as a JSON body and as a stream's error event, and the Flask
error handlers that make every error of a blueprint (or of the app) come out that way.

    errors.SERVICE.register(app)                                # the service's own shape, for every route
    errors.DETAIL.register(agents_blp, path_prefix=AGENTS)      # the agents API's {"detail": ...}

A request that matches no route (404, 405) has no blueprint: it answers in the shape of the API
whose path_prefix its path is under (shape_for_path), the service's elsewhere. Which shape each path
prefix and blueprint has is the app's (app.extensions["error_shapes"]), written when a blueprint is
registered on it: importing a module registers nothing.
"""
import logging

from flask import Flask, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from ..openai_adapter import ProviderError
from ..streaming import sse
from .exceptions import ServiceError, as_service_error

log = logging.getLogger("assistants_app.errors")

DETAIL_LOCATIONS = {"json": "body", "query": "query", "view_args": "path"}
DETAIL_TYPES = {"Missing data for required field.": "missing", "Unknown field.": "extra_forbidden",
                "Field may not be null.": "none_forbidden", "Invalid JSON body.": "json_invalid"}
SHOWN_PATH = 200  # characters of a path an error message repeats
EXTENSION = "error_shapes"


def registry(app: Flask) -> dict:
    """The app's shapes: "paths" (where each API lives: register()'s path_prefix) and "blueprints" (the
    blueprints answering in another shape than the service's, for the 401 auth.py answers before a route)."""
    return app.extensions.setdefault(EXTENSION, {"paths": {}, "blueprints": {}})


def on_app(target, remember) -> None:
    """``remember(app)`` now for an app, or when the blueprint ``target`` is registered on one."""
    if isinstance(target, Flask):
        remember(target)
    else:
        target.record_once(lambda state: remember(state.app))


def shape_for_path(path: str) -> "ErrorShape":
    """The error shape of the API whose path this is: a request no route matched answers in it."""
    for prefix, shape in registry(current_app)["paths"].items():
        if path == prefix or path.startswith(prefix + "/"):
            return shape
    return SERVICE


def shape_for_blueprint(name: str | None) -> "ErrorShape":
    return registry(current_app)["blueprints"].get(name, SERVICE)


def status_line(status: int) -> str:
    return HTTP_STATUS_CODES.get(status, "Error")


def too_large_message() -> str:
    return f"The request body is larger than {current_app.config['ASSISTANTS_MAX_BODY_BYTES']} bytes."


def rate_limited(err: HTTPException) -> tuple[str, dict]:
    """The message and headers of a 429 from the rate limiter (ratelimit.py leaves the wait in g)."""
    wait = g.get("rate_limit_retry_after", 1)
    return (f"Too many requests with this API key ({err.description}). Retry after {wait} s.",
            {"Retry-After": str(wait)})


class ErrorShape:
    """The service's own shape, flask-smorest's: {"code", "status", "message", "errors"?}."""

    def body(self, status: int, message: str | None = None, errors: dict | None = None) -> dict:
        body = {"code": status, "status": status_line(status)}
        if message:
            body["message"] = message
        if errors:
            body["errors"] = errors
        return body

    def answer(self, err: Exception):
        """The response for a ServiceError or ProviderError."""
        err = as_service_error(err)
        return jsonify(self.body(err.status, err.message, err.errors)), err.status, err.headers

    def sse_error(self, err: Exception) -> str:
        """A stream's error event, for a failure after the response began."""
        err = as_service_error(err)
        return sse(self.body(err.status, err.message), "error")

    def register(self, target, path_prefix: str | None = None) -> None:
        """Error handlers on a blueprint (its routes) or an app (every route); with path_prefix,
        a request under it that matches no route answers in this shape too."""
        if path_prefix:
            on_app(target, lambda app: registry(app)["paths"].__setitem__(path_prefix, self))
        target.register_error_handler(ServiceError, self.answer)
        target.register_error_handler(ProviderError, self.answer)
        # Python's json parser recurses: a body nested thousands deep is bad input, not a crash.
        target.register_error_handler(RecursionError, self._too_deep)

    def _too_deep(self, err):
        return jsonify(self.body(400, "The JSON body is nested too deeply.")), 400

    def unrouted(self, err: HTTPException):
        """The answer to a request that matched no route: 404, or 405 with its Allow header."""
        allow = {name: value for name, value in err.get_headers() if name == "Allow"}
        return jsonify(self.body(err.code, self.unrouted_message(err))), err.code, allow

    def unrouted_message(self, err: HTTPException) -> str:
        """OpenAI's words for an unknown URL, with the methods the path does take for a 405."""
        asked = f"{request.method} {request.path[:SHOWN_PATH]}"
        if err.code == 405:
            methods = sorted(set(err.valid_methods or ()) - {"HEAD", "OPTIONS"})
            return f"Invalid method for URL ({asked}): use {', '.join(methods)}."
        return f"Invalid URL ({asked})."


class AppShape(ErrorShape):
    """The service's shape on the app itself. HTTPExceptions answer flask-smorest's body (this same
    shape), but a request no route matched answers in the shape of its path's API; 413 and 429,
    refused before a route's API is involved, answer in this shape on every blueprint that does not
    register its own for them (registered by status, they win over a blueprint's HTTPException
    handler); and it is the last resort for anything unexpected."""

    def register(self, target, path_prefix: str | None = None) -> None:
        super().register(target, path_prefix)
        target.register_error_handler(HTTPException, self._http_error)  # in place of flask-smorest's
        target.register_error_handler(413, self._too_large)
        target.register_error_handler(429, self._rate_limited)
        target.register_error_handler(Exception, self._unexpected)

    def _http_error(self, err: HTTPException):
        """flask-smorest's body (with what webargs' abort() put in err.data), except that a request
        no route matched answers in the shape of the API whose path it is."""
        if err is request.routing_exception:
            return shape_for_path(request.path).unrouted(err)
        data = getattr(err, "data", None) or {}
        body = self.body(err.code, data.get("message"), data.get("errors") or data.get("messages"))
        return jsonify(body), err.code, data.get("headers") or {}

    def _too_large(self, err):
        return jsonify(self.body(413, too_large_message())), 413

    def _rate_limited(self, err):
        message, headers = rate_limited(err)
        return jsonify(self.body(429, message)), 429, headers

    def _unexpected(self, err):
        log.exception("unhandled error")
        # Nothing about the exception goes to the client: it may name internals.
        return jsonify(self.body(500, "An internal error occurred.")), 500


class BadRequestShape(ErrorShape):
    """The conversations API (routes.openai_routes) answers an invalid payload 400, as its
    reference says, also when a service finds it invalid."""

    def answer(self, err: Exception):
        err = as_service_error(err)
        status = 400 if err.status == 422 else err.status
        return jsonify(self.body(status, err.message, err.errors)), status, err.headers


class DetailShape(ErrorShape):
    """The agents API answers as FastAPI does: {"detail": "<sentence>"}, and 422
    {"detail": [{"loc", "msg", "type"}]} for every validation failure (a body that is not
    JSON included)."""

    def body(self, status: int, message: str | None = None, errors: dict | None = None) -> dict:
        if status == 422:
            return {"detail": validation_details(errors or {"json": [message]}, [])}
        return {"detail": message or status_line(status)}

    def unrouted_message(self, err: HTTPException) -> str:
        return status_line(err.code)  # FastAPI's {"detail": "Not Found"}, {"detail": "Method Not Allowed"}

    def sse_error(self, err: Exception) -> str:
        """OpenAI's error event in a chat.completion.chunk stream (the openai client raises it)."""
        kind = err.kind if isinstance(err, ProviderError) else "service_error"
        err = as_service_error(err)
        return sse({"error": {"message": err.message, "type": kind, "code": err.status}})

    def register(self, target, path_prefix: str | None = None) -> None:
        super().register(target, path_prefix)
        target.register_error_handler(HTTPException, self._http_error)
        # By status, as the app registers them: a blueprint's own win over the app's.
        target.register_error_handler(413, lambda err: ({"detail": too_large_message()}, 413))
        target.register_error_handler(429, self._rate_limited)

    def _rate_limited(self, err: HTTPException):
        message, headers = rate_limited(err)
        return {"detail": message}, 429, headers

    def _http_error(self, err: HTTPException):
        messages = (getattr(err, "data", None) or {}).get("messages")
        if err.code in (400, 422) and messages:  # webargs: invalid input, or a body that is not JSON
            return {"detail": validation_details(messages, [])}, 422
        if err.code == 422:
            return {"detail": validation_details({"json": [err.description]}, [])}, 422
        return {"detail": err.description}, err.code

    def _too_deep(self, err):
        return {"detail": [{"loc": ["body"], "msg": "JSON nested too deeply.", "type": "json_invalid"}]}, 422


def _detail_type(message: str) -> str:
    if message.startswith("Not a valid"):
        return "type_error"
    return DETAIL_TYPES.get(message, "value_error")


def validation_details(messages, loc: list) -> list[dict]:
    """webargs/marshmallow's nested messages as FastAPI's [{"loc", "msg", "type"}]."""
    if isinstance(messages, dict):
        details = []
        for key, value in messages.items():
            here = loc if key == "_schema" else loc + [DETAIL_LOCATIONS.get(key, key) if not loc else key]
            details += validation_details(value, here)
        return details
    if isinstance(messages, (list, tuple)):
        details = []
        for message in messages:
            details += validation_details(message, loc)
        return details
    return [{"loc": loc or ["body"], "msg": str(messages), "type": _detail_type(str(messages))}]


SERVICE = AppShape()
BAD_REQUEST = BadRequestShape()
DETAIL = DetailShape()
