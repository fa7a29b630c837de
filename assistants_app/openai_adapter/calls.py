"""One adapter operation against a provider: a deadline for all of it, our own retries
within that deadline, and the translation of whatever goes wrong into ProviderError."""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Callable, Iterator, TypeVar

import httpx2
import openai

from .. import metrics
from ..config import DefaultConfig

from .errors import ProviderError, known_code, retry_after_seconds, timed_out, translate, where
from .transport import ReadBudget, budget_applied

T = TypeVar("T")


@dataclass(frozen=True)
class Settings:
    """The adapter's settings (config.py's, read once by init_app; the defaults are config's own)."""

    timeout: float = DefaultConfig.OPENAI_TIMEOUT  # the budget of a whole operation, retries included
    connect_timeout: float = DefaultConfig.OPENAI_CONNECT_TIMEOUT  # cap on each TCP/TLS connect
    max_retries: int = DefaultConfig.OPENAI_MAX_RETRIES
    backoff: float = DefaultConfig.OPENAI_RETRY_BACKOFF  # seconds before the first retry, doubled after each
    max_reply_bytes: int = DefaultConfig.PROVIDER_MAX_REPLY_BYTES  # a lookup's reply (model lists...)
    max_turn_bytes: int = DefaultConfig.PROVIDER_MAX_TURN_BYTES  # a turn's whole reply or stream
    log_content: bool = DefaultConfig.LOG_CONTENT  # a provider's error text may quote the conversation


class Call:
    """The deadline, retry policy and error context of one operation (a turn, a lookup...)."""

    __slots__ = ("conn", "subject", "lookup", "budget", "end", "settings", "reading")

    def __init__(self, settings: Settings, conn, subject: str, *, timeout: float | None = None,
                 lookup: bool = False, turn: bool = False) -> None:
        self.settings = settings
        self.conn = conn
        self.subject = subject  # what the provider is asked about, for messages: "model 'gpt-4o'"
        self.lookup = lookup  # a provider 404 means not_found (else provider_error)
        self.budget = settings.timeout if timeout is None else timeout
        self.end = time.monotonic() + self.budget
        # Applied by the transport to every read and write this call makes (transport.py).
        self.reading = ReadBudget(self.end, settings.max_turn_bytes if turn else settings.max_reply_bytes)

    def timeout(self) -> httpx2.Timeout:
        """The per-request timeout: whatever is left of the budget, connect capped."""
        left = self.end - time.monotonic()
        if left <= 0:
            raise self.timed_out()
        return httpx2.Timeout(left, connect=min(self.settings.connect_timeout, left))

    def check_deadline(self) -> None:
        if time.monotonic() > self.end:
            raise self.timed_out()

    def timed_out(self) -> ProviderError:
        return timed_out(self.conn, self.budget)

    def error(self, exc: BaseException, *, mid_stream: bool = False) -> ProviderError:
        if self.reading.refused is not None:
            return ProviderError("address_refused", f"{where(self.conn)} may not be reached: "
                                                    f"{self.reading.refused}")
        if self.reading.too_large:
            return ProviderError("too_large", f"the reply of {where(self.conn)} for {self.subject} "
                                              f"was larger than {self.reading.max_bytes} bytes")
        return translate(exc, self.conn, subject=self.subject, lookup=self.lookup, mid_stream=mid_stream,
                         budget=self.budget, log_text=self.settings.log_content)

    def failed(self, what: str, code=None) -> ProviderError:
        """A ProviderError for a failure the provider reported inside a well-formed reply: ``what``
        the provider did, in this service's words; of the provider's own only a known error code."""
        code = known_code(code)
        return ProviderError("provider_error", f"{where(self.conn)} {what}{f' ({code})' if code else ''}")

    def read(self, stream) -> Iterator:
        """Iterate a streamed reply under this call's deadline and byte limit."""
        iterator = iter(stream)
        while True:
            with budget_applied(self.reading):
                try:
                    item = next(iterator)
                except StopIteration:
                    return
            self.check_deadline()
            yield item

    def send(self, request: Callable[[httpx2.Timeout], T]) -> T:
        """``request(timeout)`` with retries on connection errors, 429 and 5xx, inside the deadline.

        A streamed request returns once the response headers arrived, so retries never
        happen after anything was read from a stream.
        """
        attempt = 0
        while True:
            self.reading.received = 0
            timeout = self.timeout()
            started = time.perf_counter()
            try:
                with budget_applied(self.reading):
                    return request(timeout)
            except ProviderError:
                raise
            except Exception as exc:
                wait = (None if self.reading.refused or self.reading.too_large
                        else self._retry_wait(exc, attempt))
                if wait is None:
                    raise self.error(exc) from None
            finally:  # each attempt is one provider request
                metrics.observe_provider_request(self.conn.api, time.perf_counter() - started)
            attempt += 1
            time.sleep(wait)

    def _retry_wait(self, exc: Exception, attempt: int) -> float | None:
        """Seconds to wait before retrying after ``exc``, or None to give up now."""
        if isinstance(exc, openai.APIStatusError):
            if exc.status_code == 429:
                wait = retry_after_seconds(exc.response.headers)
            elif exc.status_code >= 500:
                wait = None
            else:
                return None
        elif isinstance(exc, openai.APIConnectionError):  # timeouts too: a read timeout leaves no budget
            wait = None
        else:
            return None
        if attempt >= self.settings.max_retries:
            return None
        if wait is None:
            wait = self.settings.backoff * 2 ** attempt * (1 - 0.25 * random.random())
        # The wait plus a little time for the retry itself must fit in what is left.
        if wait + 0.05 >= self.end - time.monotonic():
            return None
        return wait

    def guard(self, stream=None) -> "_Guard":
        """``with call.guard(stream):`` around reading a reply: closes the stream and turns any
        exception (a broken connection, a bad chunk, a missing field) into ProviderError."""
        return _Guard(self, stream)


class _Guard:
    __slots__ = ("call", "stream")

    def __init__(self, call: Call, stream) -> None:
        self.call = call
        self.stream = stream

    def __enter__(self):
        return self.stream

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self.stream is not None:
            try:
                with budget_applied(self.call.reading):
                    self.stream.close()
            except Exception:  # closing a broken connection may fail again: the first error matters
                pass
        if exc is None or isinstance(exc, ProviderError) or not isinstance(exc, Exception):
            return False  # GeneratorExit and friends pass through untouched
        raise self.call.error(exc, mid_stream=self.stream is not None) from None
