"""Provider answers worth remembering briefly: a credential's model list, whether a remote
assistant exists. Each is asked at most once per MODELS_CACHE_TTL seconds, in this process or,
with REDIS_URL, across every worker and host; failures are remembered too, so a dead provider
costs one call per period, not one per lookup.

Memory is bounded: expired entries are evicted, the in-process store holds at most
MODELS_CACHE_MAX_BYTES of answers, and a key's lock lives only while someone waits on it."""
import json
import logging
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from typing import Callable

from flask import current_app

from ..extensions import openai_adapter
from ..models import Credential
from ..openai_adapter import Connection, ProviderError
from . import release_connection
from .credentials import connection_for

log = logging.getLogger(__name__)


class MemoryStore:
    """Answers in insertion order, which is expiry order (one TTL for all): the oldest go
    first when they expire or when the store is over its size."""

    def __init__(self, max_bytes: int, clock=time.monotonic):
        self.max_bytes = max_bytes
        self.clock = clock
        self.size = 0
        self._entries: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= self.clock():
                self._drop(key)
                return None
            return entry[1]

    def set(self, key: str, value: str, ttl: float) -> None:
        with self._lock:
            self._drop(key)
            if len(value) > self.max_bytes:
                return
            now = self.clock()
            self._entries[key] = (now + ttl, value)
            self.size += len(value)
            while self._entries:
                oldest, (expires, _) = next(iter(self._entries.items()))
                if expires > now and self.size <= self.max_bytes:
                    break
                self._drop(oldest)

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.size -= len(entry[1])

    def __len__(self) -> int:
        return len(self._entries)


class RedisStore:
    def __init__(self, url: str):
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)

    def get(self, key: str) -> str | None:
        try:
            value = self._redis.get("assistants_app:" + key)
        except Exception as err:  # a cache that is down must not take the service with it
            log.warning("redis get failed: %s", type(err).__name__)
            return None
        return value.decode() if value is not None else None

    def set(self, key: str, value: str, ttl: float) -> None:
        try:
            self._redis.set("assistants_app:" + key, value, px=max(1, int(ttl * 1000)))
        except Exception as err:
            log.warning("redis set failed: %s", type(err).__name__)


class KeyedLocks:
    """One lock per key, dropped when its last holder or waiter leaves."""

    def __init__(self):
        self._locks: dict[str, list] = {}  # key -> [lock, holders and waiters]
        self._guard = threading.Lock()

    @contextmanager
    def hold(self, key: str):
        with self._guard:
            entry = self._locks.setdefault(key, [threading.Lock(), 0])
            entry[1] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._guard:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._locks[key]

    def __len__(self) -> int:
        return len(self._locks)


class ProviderAnswers:
    """Ask the provider at most once per period per key; remember failures too."""

    def __init__(self, app):
        url = app.config.get("REDIS_URL")
        self.store = RedisStore(url) if url else MemoryStore(int(app.config["MODELS_CACHE_MAX_BYTES"]))
        self.ttl = float(app.config["MODELS_CACHE_TTL"])
        self.locks = KeyedLocks()

    def answer(self, key: str, ask: Callable[[], object]):
        """``ask()``'s JSON-able answer, or the ProviderError it raised, as last remembered."""
        cached = self.store.get(key)
        if cached is None:
            # One caller per key asks the provider; the others wait and read its answer.
            with self.locks.hold(key):
                cached = self.store.get(key)
                if cached is None:
                    try:
                        value = {"answer": ask()}
                    except ProviderError as err:
                        value = {"error": {"kind": err.kind, "message": err.message,
                                           "retry_after": err.retry_after, "provider_status": err.provider_status}}
                    cached = json.dumps(value)
                    self.store.set(key, cached, self.ttl)
        value = json.loads(cached)
        if "error" in value:
            error = value["error"]
            raise ProviderError(error["kind"], error["message"], retry_after=error.get("retry_after"),
                                provider_status=error.get("provider_status"))
        return value["answer"]


def init_app(app) -> None:
    app.extensions["models_cache"] = ProviderAnswers(app)


def _answers() -> ProviderAnswers:
    return current_app.extensions["models_cache"]


def _key(conn: Connection, remote_id: str | None = None) -> str:
    return f"remote_assistant:{conn.cache_key}:{remote_id}" if remote_id else f"models:{conn.cache_key}"


def cached_models(conn: Connection, *, timeout: float | None = None) -> list[str]:
    """The provider's model ids."""
    return _answers().answer(_key(conn), lambda: openai_adapter.list_models(conn, timeout=timeout))


def models_of(credential: Credential | None) -> list[str]:
    """The model ids of a credential's provider (None: the service's default one)."""
    conn = connection_for(credential)
    release_connection()
    return cached_models(conn)


def cached_remote_assistant_exists(conn: Connection, remote_id: str, *, timeout: float | None = None) -> bool:
    """Whether the provider still has the remote assistant behind an agent."""
    return _answers().answer(
        _key(conn, remote_id),
        lambda: openai_adapter.remote_assistant_metadata(conn, remote_id, timeout=timeout) is not None)


def is_cached(conn: Connection, remote_id: str | None = None) -> bool:
    """Whether that answer is remembered (no provider call needed for it)."""
    return _answers().store.get(_key(conn, remote_id)) is not None
