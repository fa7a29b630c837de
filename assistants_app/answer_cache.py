"""A cache of provider answers shared by every request of an app: each answer is asked at most
once per MODELS_CACHE_TTL seconds, in this process or, with REDIS_URL, across every worker and
host; failures are remembered too, so a dead provider costs one call per period.

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

from .openai_adapter import ProviderError

log = logging.getLogger(__name__)

EXTENSION = "provider_answers"


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


class AnswerStore:
    """One app's store, TTL and locks."""

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
                                           "retry_after": err.retry_after,
                                           "provider_status": err.provider_status}}
                    cached = json.dumps(value)
                    self.store.set(key, cached, self.ttl)
        value = json.loads(cached)
        if "error" in value:
            error = value["error"]
            raise ProviderError(error["kind"], error["message"], retry_after=error.get("retry_after"),
                                provider_status=error.get("provider_status"))
        return value["answer"]


class ProviderAnswers:
    """The Flask extension: ``answer(key, ask)`` asks the provider at most once per period per
    key, through the current app's AnswerStore."""

    def init_app(self, app) -> None:
        app.extensions[EXTENSION] = AnswerStore(app)

    @staticmethod
    def current() -> AnswerStore:
        return current_app.extensions[EXTENSION]

    def answer(self, key: str, ask: Callable[[], object]):
        return self.current().answer(key, ask)

    def is_cached(self, key: str) -> bool:
        return self.current().store.get(key) is not None
