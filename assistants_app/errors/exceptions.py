"""The exceptions services raise for routes to answer, and the status each provider failure answers."""
from ..openai_adapter import ProviderError

# What this service answers for each kind of provider failure (DESIGN.md, "Errors").
PROVIDER_STATUS = {
    "unreachable": 502,
    "timeout": 504,
    "rate_limited": 429,
    "credential_rejected": 502,
    "provider_error": 502,
    "bad_response": 502,
    "too_large": 502,
    "address_refused": 502,
    "not_found": 404,
    "unsupported": 400,  # a parameter the credential's backend cannot send: the request's to change
}


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


def as_service_error(err: ServiceError | ProviderError) -> ServiceError:
    """A ProviderError (or ServiceError) as the status, message and headers a route answers."""
    if isinstance(err, ServiceError):
        return err
    headers = {}
    if err.retry_after is not None:  # Retry-After in whole seconds, at least 1
        headers["Retry-After"] = str(max(1, int(round(err.retry_after))))
    return ServiceError(PROVIDER_STATUS[err.kind], err.message, headers=headers)
