"""ProviderError, the one exception the adapter raises, and the translation of openai's
exceptions into it. Every message names what the provider said, never the api key."""
from __future__ import annotations

import email.utils
import math
import time

import httpx2
import openai

# What our service answers for each kind of provider failure (DESIGN.md, "Errors").
HTTP_STATUS = {
    "unreachable": 502,
    "timeout": 504,
    "rate_limited": 429,
    "credential_rejected": 502,
    "provider_error": 502,
    "bad_response": 502,
    "not_found": 404,
}

STREAM_ENDED_EARLY = "the provider's stream ended before the reply was complete"


class ProviderError(Exception):
    """A provider call failed; ``kind`` says how, ``http_status`` what our service answers."""

    def __init__(self, kind: str, message: str, *, retry_after: float | None = None,
                 provider_status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.http_status = HTTP_STATUS[kind]
        self.message = message
        self.retry_after = retry_after
        self.provider_status = provider_status

    def __repr__(self) -> str:
        return f"ProviderError({self.kind!r}, {self.message!r}, provider_status={self.provider_status!r})"


def scrub(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` (the api key) blanked out."""
    if secret and len(secret) >= 4 and secret in text:
        return text.replace(secret, "[redacted]")
    return text


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
            return max(seconds, 0.0)
    return None


def provider_message(exc: openai.APIError) -> str:
    """The provider's own error message, without openai's "Error code: N - " prefix."""
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
        return body["message"]
    if isinstance(body, str) and body.strip():
        return body.strip()[:500]
    return exc.message


def _host(conn) -> str:
    return conn.base_url or "https://api.openai.com/v1"


def timed_out(conn, budget: float | None) -> ProviderError:
    within = f" within {budget:g} s" if budget else " in time"
    return ProviderError("timeout", f"the provider at {_host(conn)} did not answer{within}")


def translate(exc: BaseException, conn, *, subject: str, lookup: bool = False, mid_stream: bool = False,
              budget: float | None = None) -> ProviderError:
    """The ProviderError for an exception raised while talking to ``conn``'s provider.

    ``subject`` names what was asked for ("model 'gpt-4o'", "remote thread 'thread_1'");
    ``lookup`` makes a provider 404 a ``not_found`` (it is a ``provider_error`` for a turn).
    """
    if isinstance(exc, ProviderError):
        return exc
    key = conn.api_key
    where = _host(conn)
    # APITimeoutError subclasses APIConnectionError: test it first.
    if isinstance(exc, openai.APITimeoutError):
        return timed_out(conn, budget)
    if isinstance(exc, openai.APIConnectionError):
        cause = scrub(str(exc.__cause__ or exc.message), key)
        # A RemoteProtocolError means the provider was reached but hung up mid-reply.
        if mid_stream or isinstance(exc.__cause__, httpx2.RemoteProtocolError):
            return ProviderError("unreachable", f"the connection to the provider at {where} was lost "
                                                f"before the reply was complete: {cause}")
        return ProviderError("unreachable", f"could not reach the provider at {where}: {cause}")
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        said = scrub(provider_message(exc), key)
        if status == 429:
            wait = retry_after_seconds(exc.response.headers)
            hint = f"; retry after {wait:g} s" if wait is not None else ""
            return ProviderError("rate_limited", f"the provider is rate limiting this credential "
                                                 f"(HTTP 429): {said}{hint}",
                                 retry_after=wait, provider_status=status)
        if status in (401, 403):
            return ProviderError("credential_rejected", f"the provider rejected the credential "
                                                        f"(HTTP {status}): {said}", provider_status=status)
        if status == 404 and lookup:
            return ProviderError("not_found", f"the provider has no {subject} (HTTP 404): {said}",
                                 provider_status=status)
        return ProviderError("provider_error", f"the provider answered HTTP {status} for {subject}: {said}",
                             provider_status=status)
    if isinstance(exc, openai.APIResponseValidationError):
        return ProviderError("bad_response", f"the provider's reply for {subject} could not be read: "
                                             f"{scrub(exc.message, key)}", provider_status=exc.status_code)
    if isinstance(exc, openai.APIError):  # an error event inside a stream: no HTTP status
        return ProviderError("provider_error", f"the provider reported an error while answering for "
                                               f"{subject}: {scrub(provider_message(exc), key)}")
    if isinstance(exc, openai.OpenAIError):
        return ProviderError("provider_error",
                             f"the provider call for {subject} failed: {scrub(str(exc), key)}")
    # json.JSONDecodeError, pydantic errors, a reply missing fields, a non-JSON body...
    detail = scrub(f"{type(exc).__name__}: {exc}", key)[:300]
    kind_of = "stream" if mid_stream else "reply"
    return ProviderError("bad_response", f"the provider sent a {kind_of} for {subject} that could not be "
                                         f"read ({detail})")
