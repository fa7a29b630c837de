"""The network under every provider client: where it may connect, how long a call may take
in all, and how much of a reply it may read.

httpx2's read timeout bounds each read, so a provider dripping a byte a second would hold a
call forever, and nothing bounds a reply's size. A Call sets its ReadBudget (deadline and
byte cap) in a context variable around everything it sends and reads; the streams below
apply it to every read and write of the connection in use. Tenant credentials also get the
AddressPolicy at connect time: the name is resolved once, every address checked, and the
connection made to a checked address (no second lookup for a rebinding DNS to answer)."""
from __future__ import annotations

import ssl
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import httpcore2
import httpx2
from httpcore2._backends.sync import SyncBackend

from .addresses import AddressPolicy, AddressRefused

CONNECTION_LIMITS = httpx2.Limits(max_connections=1000, max_keepalive_connections=100)


@dataclass
class ReadBudget:
    """One provider call's limits, and what it ran into."""

    deadline: float  # time.monotonic() by which everything must have been read
    max_bytes: int | None = None
    received: int = 0
    too_large: bool = False
    refused: AddressRefused | None = None


CURRENT_BUDGET: ContextVar[ReadBudget | None] = ContextVar("provider_read_budget", default=None)


@contextmanager
def budget_applied(budget: ReadBudget):
    token = CURRENT_BUDGET.set(budget)
    try:
        yield budget
    finally:
        CURRENT_BUDGET.reset(token)


def _bounded(timeout: float | None, budget: ReadBudget | None, timed_out: type[Exception]) -> float | None:
    if budget is None:
        return timeout
    left = budget.deadline - time.monotonic()
    if left <= 0:
        raise timed_out("the call's deadline has passed")
    return left if timeout is None else min(timeout, left)


class BudgetedStream(httpcore2.NetworkStream):
    def __init__(self, stream: httpcore2.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        budget = CURRENT_BUDGET.get()
        data = self._stream.read(max_bytes, _bounded(timeout, budget, httpcore2.ReadTimeout))
        if budget is not None and budget.max_bytes is not None:
            budget.received += len(data)
            if budget.received > budget.max_bytes:
                budget.too_large = True
                raise httpcore2.ReadError("the reply is larger than the call's byte limit")
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _bounded(timeout, CURRENT_BUDGET.get(), httpcore2.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None) -> httpcore2.NetworkStream:
        timeout = _bounded(timeout, CURRENT_BUDGET.get(), httpcore2.ConnectTimeout)
        return BudgetedStream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str):
        return self._stream.get_extra_info(info)


class GuardedBackend(SyncBackend):
    """Connects only to addresses the policy allows (any, for the operator's provider)."""

    def __init__(self, policy: AddressPolicy | None) -> None:
        self._policy = policy

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        budget = CURRENT_BUDGET.get()
        timeout = _bounded(timeout, budget, httpcore2.ConnectTimeout)
        targets = [host]
        if self._policy is not None:
            try:
                targets = self._policy.resolve(host, port)
            except AddressRefused as refused:
                if budget is not None:
                    budget.refused = refused
                raise httpcore2.ConnectError("address refused by PROVIDER_ALLOWED_HOSTS") from None
            except (OSError, UnicodeError) as err:
                raise httpcore2.ConnectError(type(err).__name__) from err
        error: Exception | None = None
        for target in targets:
            try:
                stream = super().connect_tcp(target, port, timeout, local_address, socket_options)
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as err:
                error = err
                continue
            return BudgetedStream(stream)
        raise error


class GuardedTransport(httpx2.HTTPTransport):
    """httpx2's transport over GuardedBackend; no proxies from the environment (a proxy would
    make the address check meaningless)."""

    def __init__(self, policy: AddressPolicy | None, ssl_context: ssl.SSLContext) -> None:
        super().__init__(verify=ssl_context, trust_env=False, limits=CONNECTION_LIMITS)
        self._pool = httpcore2.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=CONNECTION_LIMITS.max_connections,
            max_keepalive_connections=CONNECTION_LIMITS.max_keepalive_connections,
            keepalive_expiry=CONNECTION_LIMITS.keepalive_expiry,
            network_backend=GuardedBackend(policy),
        )


def http_client(policy: AddressPolicy | None, timeout: httpx2.Timeout,
                ssl_context: ssl.SSLContext) -> httpx2.Client:
    """The httpx2 client an openai client sends through: redirects are never followed (a
    redirect would carry the key's headers to wherever the provider points)."""
    return httpx2.Client(transport=GuardedTransport(policy, ssl_context), timeout=timeout,
                         follow_redirects=False, trust_env=False)


def default_ssl_context() -> ssl.SSLContext:
    """One verifying context for every client: building one reads the CA bundle (milliseconds)."""
    return httpx2.create_ssl_context()
