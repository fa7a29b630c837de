"""One error contract: flask-smorest's body {"code", "status", "message", "errors"?}.

Blueprints whose seed documents other status codes or shapes (seed 004: 400 for a bad
payload; seed 003: {"detail": ...}) translate this contract in their own handlers."""
import logging
import math
import time

from flask import jsonify
from werkzeug.http import HTTP_STATUS_CODES

from .extensions import limiter
from .openai_adapter import ProviderError

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """An error a service raises for a route to answer: a status, a sentence, maybe details."""

    def __init__(self, status: int, message: str, errors: dict | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers or {}


class NotFound(ServiceError):
    def __init__(self, message: str = "Not found."):
        super().__init__(404, message)


class Conflict(ServiceError):
    def __init__(self, message: str):
        super().__init__(409, message)


def invalid(field: str, message: str) -> ServiceError:
    """A 422 naming the offending field, in webargs' error layout."""
    return ServiceError(422, "The request is invalid.", {"json": {field: [message]}})


def error_body(status: int, message: str | None = None, errors: dict | None = None) -> dict:
    body = {"code": status, "status": HTTP_STATUS_CODES.get(status, "Error")}
    if message:
        body["message"] = message
    if errors:
        body["errors"] = errors
    return body


def provider_error_headers(err: ProviderError) -> dict:
    """Retry-After in whole seconds (at least 1) when the provider rate-limited us."""
    if err.retry_after is None:
        return {}
    return {"Retry-After": str(max(1, int(round(err.retry_after))))}


def provider_error_response(err: ProviderError):
    return jsonify(error_body(err.http_status, err.message)), err.http_status, provider_error_headers(err)


def register_error_handlers(app):
    @app.errorhandler(ServiceError)
    def handle_service_error(err: ServiceError):
        return jsonify(error_body(err.status, err.message, err.errors)), err.status, err.headers

    @app.errorhandler(ProviderError)
    def handle_provider_error(err: ProviderError):
        return provider_error_response(err)

    # Refusals that come before a route's own API is involved answer in this contract on every
    # blueprint (seed 003's too): registered by status, they win over a blueprint's handlers.
    @app.errorhandler(413)
    def handle_too_large(err):
        limit = app.config["ASSISTANTS_MAX_BODY_BYTES"]
        return jsonify(error_body(413, f"The request body is larger than {limit} bytes.")), 413

    @app.errorhandler(429)
    def handle_rate_limited(err):
        retry_after = _retry_after_seconds()
        message = f"Too many requests with this API key ({err.description}). Retry after {retry_after} s."
        return jsonify(error_body(429, message)), 429, {"Retry-After": str(retry_after)}

    # Python's json parser recurses: a body nested thousands deep is bad input, not a crash.
    @app.errorhandler(RecursionError)
    def handle_too_deep(err):
        return jsonify(error_body(400, "The JSON body is nested too deeply.")), 400

    # HTTPExceptions have flask-smorest's own, more specific handler; this one gets the rest.
    @app.errorhandler(Exception)
    def handle_unexpected(err: Exception):
        log.exception("unhandled error")
        # Nothing about the exception goes to the client: it may name internals.
        return jsonify(error_body(500, "An internal error occurred.")), 500


def _retry_after_seconds() -> int:
    """Whole seconds until the breached rate-limit window resets (at least 1)."""
    current = limiter.current_limit
    return max(1, math.ceil(current.reset_at - time.time())) if current else 1
