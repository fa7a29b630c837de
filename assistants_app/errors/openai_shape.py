"""OpenAI's error shape, for the Assistants API v2 at /v1: {"error": {"message", "type", "param",
"code"}}, so that the openai SDKs raise their usual classes. Every invalid input is 400
(invalid_request_error) naming the parameter; 401, 404, 409, 413, 429 (Retry-After) and 500 in
the same shape. The blueprints using it are named in the app's shapes (shapes.registry), for the 401
that auth.py answers before a route is reached."""
import logging

from flask import jsonify
from werkzeug.exceptions import HTTPException

from ..streaming import sse
from .shapes import ErrorShape, on_app, rate_limited, registry, too_large_message
from .exceptions import as_service_error

log = logging.getLogger("assistants_app.errors")

TYPES = {401: "invalid_request_error", 429: "rate_limit_error", 500: "server_error", 502: "server_error",
         504: "server_error"}
CODES = {401: "invalid_api_key", 404: "not_found", 429: "rate_limit_exceeded", 500: "server_error",
         502: "provider_error", 504: "provider_timeout"}


# webargs' locations: not part of a parameter's name.
LOCATIONS = ("json", "query", "view_args", "form", "files", "multipart", "_schema")


def _first_problem(messages, path=()) -> tuple[str | None, str | None]:
    """The dotted name and the message of the first invalid parameter in webargs' nested messages."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            here = path if key in LOCATIONS and not path else (*path, str(key))
            if key == "_schema":
                here = path
            return _first_problem(value, here)
    if isinstance(messages, (list, tuple)) and messages:
        return _first_problem(messages[0], path)
    return (".".join(path) or None), (str(messages) if messages else None)


class OpenAIShape(ErrorShape):
    def body(self, status: int, message: str | None = None, errors: dict | None = None) -> dict:
        param = None
        if errors:
            param, problem = _first_problem(errors)
            if problem == "Unknown field.":
                message = f"Unknown parameter: '{param}'."
            elif param:
                message = f"Invalid '{param}': {problem}"
            else:
                message = problem or message
        status = 400 if status == 422 else status
        return {"error": {"message": message or "Error", "type": TYPES.get(status, "invalid_request_error"),
                          "param": param, "code": CODES.get(status)}}

    def answer(self, err: Exception):
        code = getattr(err, "openai_code", None)  # its own OpenAI code (model_not_found), not the status's
        err = as_service_error(err)
        status = 400 if err.status == 422 else err.status
        body = self.body(err.status, err.message, err.errors)
        if code:
            body["error"]["code"] = code
        return jsonify(body), status, err.headers

    def sse_error(self, err: Exception) -> str:
        err = as_service_error(err)
        return sse(self.body(err.status, err.message), "error")

    def register(self, target, path_prefix: str | None = None) -> None:
        super().register(target, path_prefix)
        on_app(target, lambda app: registry(app)["blueprints"].__setitem__(target.name, self))
        # By status: these win over the app's own handlers (registered by status too).
        target.register_error_handler(413, lambda err: (jsonify(self.body(413, too_large_message())), 413))
        target.register_error_handler(429, self._rate_limited)
        target.register_error_handler(HTTPException, self._http_error)
        target.register_error_handler(Exception, self._unexpected)

    def _rate_limited(self, err):
        message, headers = rate_limited(err)
        return jsonify(self.body(429, message)), 429, headers

    def _http_error(self, err: HTTPException):
        messages = (getattr(err, "data", None) or {}).get("messages")
        status = 400 if err.code == 422 else err.code
        return jsonify(self.body(status, err.description, messages)), status

    def _unexpected(self, err):
        log.exception("unhandled error")
        return jsonify(self.body(500, "An internal error occurred.")), 500

    def _too_deep(self, err):
        return jsonify(self.body(400, "The JSON body is nested too deeply.")), 400


OPENAI = OpenAIShape()
