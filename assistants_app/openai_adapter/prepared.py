"""Posting prebuilt JSON through an openai client, without its per-call request machinery.

The client's ``post`` rebuilds the URL, the headers and its options objects on every call
(~1.5 ms of a chat turn's CPU); they do not change between a client's turns. The first post
to a path (and, for Azure, a deployment: its URL names the model) asks the client itself to
build the request, so its base URL, auth headers and Azure rewriting stay the SDK's; later
posts reuse that URL and those headers with a new body, sent through the client's own httpx2
client (our guarded transport), and failures become the SDK's exceptions, as its ``post``
would raise them. A client with per-request auth (workload identity, a provider runtime)
keeps the SDK's path."""
from __future__ import annotations

import ssl

import httpx2
import openai
from openai._models import FinalRequestOptions

from ..fast_json import dumps_bytes

# Headers the SDK computes per request; the template leaves them out.
PER_REQUEST = ("content-length", "x-stainless-read-timeout", "x-stainless-retry-count")

# Each client keeps its templates, {(path, model): (url, headers)}, in this attribute (set on first use): they
# live and go with the client, which the app's ClientCache (app.extensions) owns -- no process-wide cache.
TEMPLATES = "_assistants_app_templates"


def _dynamic_auth(client: openai.OpenAI) -> bool:
    return (getattr(client, "_provider_runtime", None) is not None
            or getattr(client, "_workload_identity_auth", None) is not None
            or getattr(client, "_azure_ad_token_provider", None) is not None)


def _template(client: openai.OpenAI, path: str, model: str) -> tuple[httpx2.URL, dict]:
    known = client.__dict__.setdefault(TEMPLATES, {})
    key = (path, model if isinstance(client, openai.AzureOpenAI) else "")
    entry = known.get(key)
    if entry is not None:
        return entry
    options = client._prepare_options(FinalRequestOptions.construct(
        method="post", url=path, json_data={"model": model}))
    built = client._build_request(options)
    headers = {name: value for name, value in built.headers.items() if name not in PER_REQUEST}
    if len(known) > 256:  # one per Azure deployment: a tenant may name many models
        known.clear()
    known[key] = built.url, headers
    return built.url, headers


def post_json(client: openai.OpenAI, path: str, body: dict, *, timeout: httpx2.Timeout,
              stream: bool = False) -> httpx2.Response:
    """POST ``body`` to ``path`` of the client's base URL; the response of a 2xx, else the SDK's
    APIStatusError. Connection failures raise APIConnectionError, timeouts APITimeoutError."""
    if _dynamic_auth(client):
        return client.post(path, cast_to=httpx2.Response, body=body, options={"timeout": timeout},
                           stream=stream)
    url, headers = _template(client, path, str(body.get("model", "")))
    request = httpx2.Request("POST", url, headers=headers, content=dumps_bytes(body),
                             extensions={"timeout": timeout.as_dict()})
    try:
        response = _send(client._client, request, stream)
    except httpx2.TimeoutException as err:
        raise openai.APITimeoutError(request=request) from err
    except (httpx2.RequestError, ssl.SSLError) as err:
        raise openai.APIConnectionError(request=request) from err
    if not response.is_success:  # as the SDK: a redirect is an error too (it is never followed)
        try:
            response.read()  # a streamed error's body: the error's message and code are in it
        finally:
            response.close()
        raise client._make_status_error_from_response(response)
    return response


def _send(http: httpx2.Client, request: httpx2.Request, stream: bool) -> httpx2.Response:
    """What httpx2.Client.send does for our clients, which never authenticate, redirect, keep
    cookies or hook events (transport.http_client): the transport's request, the body read
    unless streamed. The Client's layers around it cost ~0.15 ms a call."""
    response = http._transport_for_url(request.url).handle_request(request)
    response.request = request
    if not stream:
        try:
            response.read()
        except BaseException:
            response.close()
            raise
    return response
