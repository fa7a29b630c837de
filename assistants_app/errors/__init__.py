"""The error contract, in one place: the exceptions services raise, what status each provider
failure answers, and (shapes.py) how each API writes an error: the service's own body
{"code", "status", "message", "errors"?}, the agents API's {"detail": ...}, and OpenAI's
{"error": {"message", "type", "param", "code"}}, as a JSON body or a stream's error event."""
from .exceptions import PROVIDER_STATUS, Conflict, NotFound, ServiceError, as_service_error, invalid
from .shapes import BAD_REQUEST, DETAIL, SERVICE, ErrorShape, shape_for_blueprint, validation_details
from .openai_shape import OPENAI

__all__ = ["BAD_REQUEST", "DETAIL", "OPENAI", "PROVIDER_STATUS", "SERVICE", "Conflict", "ErrorShape",
           "NotFound", "ServiceError", "as_service_error", "invalid", "shape_for_blueprint",
           "validation_details"]
