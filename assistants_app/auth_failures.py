"""Failed authentication, limited per client address: past AUTH_FAILURE_LIMIT wrong API keys
(default 20 per minute) an address gets 429 with Retry-After, in its API's error shape, until its
window ends: nothing slows a key-guessing client down otherwise. Valid keys from that address keep
working (the other users behind one NAT, the owner who mistyped a key). Counted in Redis when
REDIS_URL is set (shared by every worker and host, like the rate limits), else in each process;
with Redis down, in the process's memory meanwhile.

The counters are made at the first wrong key, not with the app: limits' in-memory storage starts a
Timer thread as it is made, and one started while gunicorn preloads the app (a greenlet, the master
being gevent-patched) would be copied into every worker by the fork and fail there at its end
(threading._delete's KeyError: two tracebacks per worker at boot)."""
import math
import threading
import time

from limits import parse
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from .errors import ServiceError

EXTENSION = "auth_failures"
NAMESPACE = "assistants_app/auth-failures"


class AuthFailures:
    """One app's counts (in app.extensions: each app its own storage, as ratelimit.py explains)."""

    def __init__(self, app):
        self.limit = parse(app.config["AUTH_FAILURE_LIMIT"])
        self.uri = app.config["RATELIMIT_STORAGE_URI"]  # create_app derives it from REDIS_URL
        self.options = {} if self.uri.startswith("memory") else app.config["RATELIMIT_STORAGE_OPTIONS"]
        self._limiters: tuple[FixedWindowRateLimiter, FixedWindowRateLimiter] | None = None
        self._making = threading.Lock()

    def limiters(self) -> tuple[FixedWindowRateLimiter, FixedWindowRateLimiter]:
        """(shared, local): counting in RATELIMIT_STORAGE_URI, and in this process's memory; made once,
        when first needed."""
        with self._making:
            if self._limiters is None:
                shared = FixedWindowRateLimiter(storage_from_string(self.uri, **self.options))
                self._limiters = (shared, FixedWindowRateLimiter(MemoryStorage()))
            return self._limiters

    def count(self, address: str) -> None:
        """Count a wrong key from ``address``; raise 429 once it is past the limit."""
        shared, local = self.limiters()
        try:
            reset_at = self._hit(shared, address)
        except Exception:  # noqa: BLE001 - the shared storage (Redis) is down: never a 500 for it
            reset_at = self._hit(local, address)
        if reset_at is not None:
            wait = max(1, math.ceil(reset_at - time.time()))
            raise ServiceError(429, "Too many requests with a wrong API key from this address "
                                    f"({self.limit}). Retry after {wait} s.",
                               headers={"Retry-After": str(wait)})

    def _hit(self, limiter: FixedWindowRateLimiter, address: str) -> float | None:
        """None while under the limit; past it, when the window resets."""
        if limiter.hit(self.limit, NAMESPACE, address):
            return None
        return limiter.get_window_stats(self.limit, NAMESPACE, address).reset_time
