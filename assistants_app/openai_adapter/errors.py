"""ProviderError, the one exception the adapter raises, and the translation of openai's
exceptions into it. A message says what failed (status, timeout, refused, unreadable) in this
service's words: a provider's body or a transport's exception text can carry anything (an
internal service's reply, the key itself), so they go to the log only, scrubbed, then cut."""
from __future__ import annotations

import email.utils
import json
import logging
import math
import re
import socket
import ssl
import time

import httpx2
import openai

log = logging.getLogger(__name__)

# How a provider call can fail (what the service answers for each is the error contract's: errors/).
KINDS = ("unreachable", "timeout", "rate_limited", "credential_rejected", "provider_error", "bad_response",
         "not_found", "too_large", "address_refused", "unsupported")
# OpenAI's error codes and types: the only words of a provider's error that reach a client.
KNOWN_CODES = frozenset({
    "context_length_exceeded", "model_not_found", "invalid_api_key", "insufficient_quota",
    "rate_limit_exceeded", "content_filter", "content_policy_violation", "invalid_prompt",
    "invalid_request_error", "server_error", "unsupported_parameter", "unsupported_value",
    "invalid_value", "string_above_max_length", "tokens_exceeded", "engine_overloaded",
    "api_error", "authentication_error", "permission_error", "not_found_error", "overloaded_error",
    "max_prompt_tokens", "max_completion_tokens", "max_output_tokens",
})
LOGGED_DETAIL = 500
IDENTIFIER = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
MAX_RETRY_AFTER = 86400.0  # a provider's Retry-After beyond a day is passed on as a day

STREAM_ENDED_EARLY = "the provider's stream ended before the reply was complete"


class ProviderError(Exception):
    """A provider call failed; ``kind`` (one of KINDS) says how."""

    def __init__(self, kind: str, message: str, *, retry_after: float | None = None,
                 provider_status: int | None = None, code: str | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown provider failure kind {kind!r}")
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after = retry_after
        self.provider_status = provider_status
        # the provider's error code, when it is one of KNOWN_CODES (context_length_exceeded...)
        self.code = code

    def __repr__(self) -> str:
        return f"ProviderError({self.kind!r}, {self.message!r}, provider_status={self.provider_status!r})"


BEARER = re.compile(r"(?i)(bearer\s+)\S+")


def scrub(text: str, secret: str | None) -> str:
    """``text`` without the api key, also in the escaped spellings an exception message may
    quote it in (``b'Bearer sk-...\\n'``), nor any other Bearer token."""
    if secret:
        forms = {secret, secret.strip(), secret.encode("unicode_escape").decode("ascii"),
                 repr(secret)[1:-1], repr(secret.encode("utf-8", "replace"))[2:-1]}
        for form in sorted((f for f in forms if len(f) >= 4), key=len, reverse=True):
            text = text.replace(form, "[redacted]")
    return BEARER.sub(r"\1[redacted]", text)


def retry_after_seconds(headers) -> float | None:
    """Seconds from retry-after-ms or Retry-After (a number or an HTTP date), as openai reads them."""
    if headers is None:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            try:
                seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError, OverflowError):
                continue
        if math.isfinite(seconds):
            return min(max(seconds, 0.0), MAX_RETRY_AFTER)
    return None


def provider_detail(exc: BaseException) -> str:
    """What the provider or the transport said: for the log only, never for a client."""
    body = getattr(exc, "body", None)
    if isinstance(body, (dict, list)):
        return json.dumps(body)[:4000]
    if isinstance(body, str) and body.strip():
        return body.strip()[:4000]
    cause = exc.__cause__ or exc.__context__
    return f"{type(exc).__name__}: {exc}" + (f" <- {type(cause).__name__}: {cause}" if cause else "")


def known_code(value) -> str | None:
    """An OpenAI error code a client can act on; any other provider text stays in the log."""
    candidates = [value.get("code"), value.get("type")] if isinstance(value, dict) else [value]
    return next((c for c in candidates if isinstance(c, str) and c in KNOWN_CODES), None)


def log_failure(exc: BaseException, conn, subject: str, with_text: bool = False) -> None:
    """The provider's own words go to the log, scrubbed first and cut after: its error's code,
    type and param always (identifiers), its text only with LOG_CONTENT=true (it may quote
    the conversation)."""
    fields = {"event": "provider_error", "subject": subject[:200], "provider": where(conn),
              "status": getattr(exc, "status_code", None), "exception": type(exc).__name__}
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        fields.update({f"error_{name}": body[name] for name in ("code", "type", "param")
                       if isinstance(body.get(name), str) and IDENTIFIER.fullmatch(body[name])})
    if with_text:
        fields["detail"] = scrub(provider_detail(exc), conn.api_key)[:LOGGED_DETAIL]
    log.warning("provider call failed", extra={"fields": fields})


def where(conn) -> str:
    """The provider, as a client may read it: its URL for a tenant's credential (they chose
    it), never the operator's (it may name an internal host)."""
    if conn.trusted:
        return "the default provider"
    return f"the provider at {conn.base_url or 'https://api.openai.com/v1'}"


def timed_out(conn, budget: float | None) -> ProviderError:
    within = f" within {budget:g} s" if budget else " in time"
    return ProviderError("timeout", f"{where(conn)} did not answer{within}")


def _connect_failure(exc: BaseException) -> str:
    """A fixed phrase for why a connection failed: a transport's message can quote anything."""
    chain, seen = [], exc
    while seen is not None and len(chain) < 8:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    for error in chain:
        if isinstance(error, ConnectionRefusedError):
            return "the connection was refused"
        if isinstance(error, socket.gaierror):
            return "its host name did not resolve"
        if isinstance(error, ssl.SSLError):
            return "the TLS handshake failed"
    return "the connection failed"


def translate(exc: BaseException, conn, *, subject: str, lookup: bool = False, mid_stream: bool = False,
              budget: float | None = None, log_text: bool = False) -> ProviderError:
    """The ProviderError for an exception raised while talking to ``conn``'s provider.

    ``subject`` names what was asked for ("model 'gpt-4o'", "remote thread 'thread_1'");
    ``lookup`` makes a provider 404 a ``not_found`` (it is a ``provider_error`` for a turn).
    The message says what failed in this service's words; what the provider said is logged.
    """
    if isinstance(exc, ProviderError):
        return exc
    log_failure(exc, conn, subject, log_text)
    provider = where(conn)
    # APITimeoutError subclasses APIConnectionError: test it first. httpx2's own errors come from
    # reading a reply the adapter reads itself (a stream's lines).
    if isinstance(exc, (openai.APITimeoutError, httpx2.TimeoutException)):
        return timed_out(conn, budget)
    if isinstance(exc, (openai.APIConnectionError, httpx2.TransportError)):
        # A RemoteProtocolError means the provider was reached but hung up mid-reply.
        if mid_stream or isinstance(exc.__cause__, httpx2.RemoteProtocolError):
            return ProviderError("unreachable", f"the connection to {provider} was lost before the reply "
                                                "was complete")
        return ProviderError("unreachable", f"could not reach {provider}: {_connect_failure(exc)}")
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        code = known_code(exc.body)
        said = f"HTTP {status}, {code}" if code else f"HTTP {status}"
        if status == 429:
            wait = retry_after_seconds(exc.response.headers)
            hint = f"; retry after {wait:g} s" if wait is not None else ""
            return ProviderError("rate_limited",
                                 f"{provider} is rate limiting this credential ({said}){hint}",
                                 retry_after=wait, provider_status=status)
        if status in (401, 403):
            return ProviderError("credential_rejected", f"{provider} rejected the credential ({said})",
                                 provider_status=status)
        if status == 404 and lookup:
            return ProviderError("not_found", f"{provider} has no {subject} ({said})", provider_status=status)
        if 300 <= status < 400:
            return ProviderError("provider_error",
                                 f"{provider} answered with a redirect ({said}) for {subject}; "
                                 "redirects are not followed: set the final URL as base_url",
                                 provider_status=status)
        return ProviderError("provider_error", f"{provider} answered {said} for {subject}",
                             provider_status=status, code=code)
    if isinstance(exc, openai.APIResponseValidationError):
        return ProviderError("bad_response", f"the reply of {provider} for {subject} could not be read",
                             provider_status=exc.status_code)
    if isinstance(exc, openai.APIError):  # an error event inside a stream: no HTTP status
        code = known_code(exc.body) or known_code(getattr(exc, "code", None))
        return ProviderError("provider_error", f"{provider} reported an error while answering for {subject}"
                                               + (f" ({code})" if code else ""), code=code)
    if isinstance(exc, openai.OpenAIError):
        return ProviderError("provider_error", f"the call to {provider} for {subject} failed")
    # json.JSONDecodeError, pydantic errors, a reply missing fields, a non-JSON body...
    kind_of = "stream" if mid_stream else "reply"
    return ProviderError("bad_response", f"{provider} sent a {kind_of} for {subject} that could not be read")
