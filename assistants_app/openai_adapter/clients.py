"""One openai client per connection, built once and reused: a client owns a connection pool,
so building one per request would pay a TCP (and TLS) handshake every turn."""
from __future__ import annotations

import ssl
import threading
from collections import OrderedDict

import httpx2
import openai

from .addresses import AddressPolicy
from .calls import Settings
from .errors import ProviderError, where
from .transport import default_ssl_context, http_client

# Local servers (vLLM, Ollama, llama.cpp) take any key; an empty one would make openai fall
# back to the OPENAI_API_KEY environment variable and send the app's key to someone else.
KEYLESS_PLACEHOLDER = "EMPTY"


def build_client(conn, settings: Settings, policy: AddressPolicy, ssl_context) -> openai.OpenAI:
    """A client with our timeout and no retries of its own (Call.send retries within the
    deadline), over the guarded transport: the address policy for a tenant's credential, the
    call's deadline and byte limit for every connection, no redirects."""
    timeout = httpx2.Timeout(settings.timeout, connect=settings.connect_timeout)
    api_key = conn.api_key or KEYLESS_PLACEHOLDER
    transport = http_client(None if conn.trusted else policy, timeout, ssl_context)
    if conn.api_version:
        return openai.AzureOpenAI(azure_endpoint=conn.base_url, api_version=conn.api_version, api_key=api_key,
                                  organization=conn.organization, timeout=timeout, max_retries=0,
                                  http_client=transport)
    return openai.OpenAI(api_key=api_key, base_url=conn.base_url, organization=conn.organization,
                         timeout=timeout, max_retries=0, http_client=transport)


class ClientCache:
    """Thread-safe LRU of clients keyed by Connection.cache_key.

    An entry is also rebuilt when the connection's own fields differ from the ones it was
    built with, so a reused cache_key can never send one credential's key to another URL.
    Evicted clients are not closed (a request on another thread may still use one): their
    pools close when they are garbage collected.
    """

    def __init__(self, settings: Settings, policy: AddressPolicy | None = None, maxsize: int = 256) -> None:
        self._settings = settings
        self._policy = policy or AddressPolicy()  # none given: public addresses only
        self._ssl_context: ssl.SSLContext | None = None  # built with the first client (an app may make none)
        self._maxsize = maxsize
        self._clients: OrderedDict[str, tuple[tuple, openai.OpenAI]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, conn) -> openai.OpenAI:
        fields = (conn.api_key, conn.base_url, conn.organization, conn.api_version, conn.trusted)
        key = conn.cache_key
        with self._lock:
            entry = self._clients.get(key)
            if entry is not None and entry[0] == fields:
                self._clients.move_to_end(key)
                return entry[1]
        # Outside the lock: building a client reads certificates, which takes milliseconds.
        if self._ssl_context is None:  # two threads may both build one: either will do
            self._ssl_context = default_ssl_context()
        try:
            client = build_client(conn, self._settings, self._policy, self._ssl_context)
        except Exception:  # e.g. a malformed base_url stored before it was checked
            raise ProviderError("provider_error", f"could not set up a client for {where(conn)}: "
                                "check its base_url") from None
        with self._lock:
            entry = self._clients.get(key)
            if entry is not None and entry[0] == fields:  # another thread built it first
                return entry[1]
            self._clients[key] = (fields, client)
            self._clients.move_to_end(key)
            while len(self._clients) > self._maxsize:
                self._clients.popitem(last=False)
        return client

    def __len__(self) -> int:
        return len(self._clients)
