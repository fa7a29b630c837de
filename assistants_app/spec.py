"""The OpenAPI document lists every status each operation can answer.

flask-smorest's catch-all `default` response is turned off (it would hide an undocumented
status from clients and from the fuzz test); the statuses every route shares are added to
each operation here, each route's own ones stay on its view."""
import functools

from apispec import BasePlugin
from flask_smorest import Api

# Answered before any view runs, in the one error contract (auth.py, the rate limiter).
SECURED = {
    401: ("Missing, invalid or revoked API key.",
          {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}}),
    429: ("Too many requests with this API key (RATELIMIT_DEFAULT).",
          {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}),
}
# Answered before anything reads the request (request_limits.py), in the shape of the API whose path it is.
HEAD = {
    414: ("The URL is longer than the service reads (request_limits.MAX_URL_BYTES).", {}),
    431: ("A header field is larger than the service reads (request_limits.MAX_HEADER_BYTES).", {}),
}
# Answered while the body is read: over ASSISTANTS_MAX_BODY_BYTES, or not JSON.
BODY = {
    413: ("The body is larger than ASSISTANTS_MAX_BODY_BYTES.", {}),
    400: ("The body is not valid JSON.", {}),
}
NOT_FOUND = {404: ("No such object (or one of another tenant).", {})}
# What a route that calls the provider may answer, besides its own statuses.
PROVIDER_FAILURES = {429: "The provider rate-limited the request (see Retry-After).",
                     502: "The provider failed, is unreachable, or rejected the credential.",
                     504: "The provider did not answer within OPENAI_TIMEOUT."}
# The agents API's base path; it answers a body that is not JSON with its own 422 (as FastAPI
# does), never 400.
AGENTS_PREFIX = "/api/v1/compatibility/openai/v1"
# The agents API answers its 413, 414, 431 and its rate limit's 429 in its own {"detail": ...}
# (errors.DETAIL); its 401 comes from auth.py, before the route's API is known: the service's shape.
AGENTS_OWN_SHAPE = {413, 414, 429, 431}
# The Assistants API v2 answers every error in OpenAI's shape (errors/openai_shape.py).
V2_PREFIX = "/v1/"
OPENAI_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["message", "type"],
    "properties": {"message": {"type": "string"}, "type": {"type": "string"},
                   "param": {"type": "string", "nullable": True},
                   "code": {"type": "string", "nullable": True}}}}}


def event_stream(events: str, names: tuple[str, ...] = ()) -> dict:
    """For @blp.doc(**event_stream("...", names)): the 200 of a route that, with "stream": true in its
    body, answers text/event-stream (server-sent events) instead of its JSON body. The schema is one
    event's, as OpenAPI 3.2 describes a stream (itemSchema): its ``data``, and its ``event`` name, one
    of ``names`` (none: the stream's events have no name)."""
    properties = {"data": {"type": "string", "description": "JSON, or [DONE] at the end."}}
    if names:
        properties["event"] = {"type": "string", "enum": list(names)}
    schema = {"type": "object", "required": ["data"], "properties": properties,
              "description": f"One server-sent event of the stream (with \"stream\": true): {events}"}
    return {"responses": {200: {"content": {"text/event-stream": {"schema": schema}}}}}


def _error(description: str, headers: dict, schema: str) -> dict:
    response = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


class SharedStatusesPlugin(BasePlugin):
    """apispec plugin: adds the shared statuses an operation does not document itself."""

    def operation_helper(self, path=None, operations=None, **kwargs):
        for operation in (operations or {}).values():
            responses = operation.setdefault("responses", {})
            shared = dict(HEAD)
            if operation.get("security") != []:
                shared.update(SECURED)
            if "requestBody" in operation:
                shared.update(BODY)
                if path.startswith(AGENTS_PREFIX + "/"):
                    del shared[400]
            if "{" in path:
                shared.update(NOT_FOUND)
            for status, (description, headers) in shared.items():
                own_shape = path.startswith(AGENTS_PREFIX + "/") and status in AGENTS_OWN_SHAPE
                schema = "Detail" if own_shape else "Error"
                documented = responses.get(status) or responses.get(str(status))
                if documented is None:
                    responses[str(status)] = _error(description, headers, schema)
                elif status in SECURED and isinstance(documented, dict):
                    _also_error(documented, description, headers, schema)  # a provider's 429: either may come
            if path.startswith(V2_PREFIX):
                _openai_errors(responses)


def _openai_errors(responses: dict) -> None:
    """Every error response of the v2 API in OpenAI's shape."""
    for status, response in list(responses.items()):
        if int(status) < 400:
            continue
        if not isinstance(response, dict) or "$ref" in response:  # flask-smorest's shared BAD_REQUEST, ...
            response = responses[status] = {"description": "Invalid request (the parameter is named)."}
        response["content"] = {"application/json": {"schema": OPENAI_ERROR}}


def _also_error(response: dict, description: str, headers: dict, schema: str) -> None:
    response["description"] = f"{response.get('description', '')} Or: {description}".strip()
    response.setdefault("headers", {}).update(headers)
    media = (response.get("content") or {}).get("application/json")
    ref = {"$ref": f"#/components/schemas/{schema}"}
    if media and media.get("schema") not in (schema, ref):
        media["schema"] = {"oneOf": [media["schema"], ref]}


# What an error status means, for the operations that document it (each API keeps its own shape: the
# blueprint's error handlers answer it, SharedStatusesPlugin writes /v1's in OpenAI's schema).
ERROR_DESCRIPTIONS = {400: "Invalid request (the parameter is named).", 404: "No such object.",
                      409: "The object is busy or changed meanwhile.", 422: "Validation Error",
                      **PROVIDER_FAILURES}


def error_docs(blp, descriptions: dict | None = None, schema=None, always: dict | None = None):
    """The one decorator factory every blueprint documents its errors with:

        documents = error_docs(blp)                   # in the blueprint's module, once
        @documents(404, 502, described={404: "..."})  # on a view: an alt_response per status

    ``descriptions`` override the shared sentences; ``schema`` is the blueprint's error body where the
    default one is not it (the agents API's {"detail"}); ``always``, {status: schema}, is added to every
    view it documents (the agents API's 422)."""
    known = {**ERROR_DESCRIPTIONS, **(descriptions or {})}

    def documents(*statuses, described: dict | None = None):
        def decorate(view):
            for status, status_schema in (always or {}).items():
                view = blp.alt_response(status, schema=status_schema, description=known[status])(view)
            for status in statuses:
                text = (described or {}).get(status) or known[status]
                view = blp.alt_response(status, description=text,
                                        **({"schema": schema} if schema is not None else {}))(view)
            return view
        return decorate
    return documents


class DeferredDocApi(Api):
    """flask-smorest's Api, writing the document when the spec is first read (the /openapi.json route,
    the docs' build) instead of when the app is made: documenting a blueprint's views deep-copies every
    schema (0.3 s of create_app's 0.4 s), and init_app's components -- a response for each HTTP status,
    each resolving its schema, the ETag and pagination headers -- a quarter of the rest (create_app 6.2 ->
    4.6 ms deferred); a worker paid it all at boot for a document most never serve, the test suite's app
    per test ~1,400 times. The document is the same (compared byte for byte): the components first, then
    the blueprints in the order they were registered, against the app they were registered on."""

    @property
    def spec(self):
        if not self._documenting:
            self._documenting = True
            try:
                while self._deferred:
                    self._deferred.pop(0)()
            finally:
                self._documenting = False
        return self._spec

    @spec.setter
    def spec(self, value):  # a new app's spec (init_app): nothing of the previous app's is pending
        self._spec = value
        self._deferred = []
        self._documenting = False

    def _register_responses(self):
        self._deferred.append(super()._register_responses)

    def _register_etag_headers(self):
        self._deferred.append(super()._register_etag_headers)

    def _register_pagination_header(self):
        self._deferred.append(super()._register_pagination_header)

    def register_blueprint(self, blp, *, parameters=None, **options):
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)
        self._deferred.append(functools.partial(self._document, self._app, blp, name, parameters))

    def _document(self, app, blp, name: str, parameters) -> None:
        blp.register_views_in_doc(self, app, self._spec, name=name, parameters=parameters)
        self._spec.tag({"name": name, "description": blp.description})
