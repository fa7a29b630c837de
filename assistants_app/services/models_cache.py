"""The provider's model list, cached per credential for MODELS_CACHE_TTL seconds: in this
process, or in Redis (shared by every worker and host) when REDIS_URL is set.

Failures are cached too, so a dead provider costs one call per period, not one per lookup."""
import json
import logging
import threading
import time

from flask import current_app

from ..extensions import openai_adapter
from ..openai_adapter import Connection, ProviderError

log = logging.getLogger(__name__)


class MemoryStore:
    def __init__(self):
        self._entries: dict[str, tuple[float, str]] = {}

    def get(self, key: str) -> str | None:
        entry = self._entries.get(key)
        return entry[1] if entry and entry[0] > time.monotonic() else None

    def set(self, key: str, value: str, ttl: float) -> None:
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + ttl, value)


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


class ModelsCache:
    def __init__(self, app):
        url = app.config.get("REDIS_URL")
        self.store = RedisStore(url) if url else MemoryStore()
        self.ttl = float(app.config["MODELS_CACHE_TTL"])
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def _lock(self, key: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())

    def models(self, conn: Connection, *, timeout: float | None = None) -> list[str]:
        """The model ids, or the ProviderError the provider last answered with."""
        key = "models:" + conn.cache_key
        cached = self.store.get(key)
        if cached is None:
            # One caller per key asks the provider; the others wait and read its answer.
            with self._lock(key):
                cached = self.store.get(key)
                if cached is None:
                    cached = json.dumps(_ask_provider(conn, timeout))
                    self.store.set(key, cached, self.ttl)
        return _decode(cached)


def _ask_provider(conn: Connection, timeout: float | None) -> dict:
    try:
        return {"models": openai_adapter.list_models(conn, timeout=timeout)}
    except ProviderError as err:
        return {"error": {"kind": err.kind, "message": err.message, "retry_after": err.retry_after,
                          "provider_status": err.provider_status}}


def _decode(cached: str) -> list[str]:
    value = json.loads(cached)
    if "error" in value:
        error = value["error"]
        raise ProviderError(error["kind"], error["message"], retry_after=error.get("retry_after"),
                            provider_status=error.get("provider_status"))
    return value["models"]


def init_app(app) -> None:
    app.extensions["models_cache"] = ModelsCache(app)


def cached_models(conn: Connection, *, timeout: float | None = None) -> list[str]:
    return current_app.extensions["models_cache"].models(conn, timeout=timeout)
