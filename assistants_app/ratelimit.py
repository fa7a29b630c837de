"""Request rate limits (flask-limiter): when RATELIMIT_DEFAULT is set, one budget per API key across
all routes, counted in Redis when REDIS_URL is set, so every worker and host shares it.
Requests without a key count against their address; GET /health is never limited.

Each app gets a Limiter of its own, kept in app.extensions: flask-limiter keeps its storage,
its settings and its "storage is dead" flag on the instance, so one Limiter shared by every app
of a process would carry one app's Redis (down, or another URL) into the apps built after it."""
import math
import time

from flask import current_app, g, request
from flask_limiter import Limit, Limiter, RequestLimit

from .auth import PUBLIC_BLUEPRINTS, bearer_key, digest

EXTENSION = "rate_limiter"


def rate_limit_key() -> str:
    """Each API key has its own budget (by its digest); requests without one, their address's."""
    key = None if request.blueprint in PUBLIC_BLUEPRINTS else bearer_key()
    return f"key:{digest(key)}" if key else f"addr:{request.remote_addr}"


def _remember_wait(limit: RequestLimit) -> None:
    """on_breach: the whole seconds until the window resets, for the 429's Retry-After (errors/)."""
    g.rate_limit_retry_after = max(1, math.ceil(limit.reset_at - time.time()))


def _not_limited() -> bool:
    return request.blueprint == "health"  # load balancers probe it at will


class RateLimits:
    """The Flask extension (run its init_app before authentication, so refused requests count)."""

    def init_app(self, app) -> None:
        # Without RATELIMIT_DEFAULT there is nothing to limit, and no Limiter: its hooks would
        # still cost every request ~0.3 ms. With it, the value is read per request, so that each
        # app's own value holds. Storage: RATELIMIT_STORAGE_URI, derived from REDIS_URL by create_app().
        app.extensions[EXTENSION] = None
        if not app.config.get("RATELIMIT_DEFAULT"):
            return
        per_key = [Limit(lambda: current_app.config["RATELIMIT_DEFAULT"], scope="per-key", shared=True)]
        limiter = Limiter(
            key_func=rate_limit_key,
            default_limits=per_key,
            key_prefix="assistants_app",
            on_breach=_remember_wait,
            # Redis down: limit in each process's memory meanwhile, never answer 500 for it.
            in_memory_fallback_enabled=True,
            swallow_errors=True,
        )
        limiter.request_filter(_not_limited)
        limiter.init_app(app)
        app.extensions[EXTENSION] = limiter


def count_again() -> None:
    """One request that asks for more than one thing (a WebSocket connection, each response.create after
    its first) counts each against the budget too: flask-limiter's own check once more, its memory of
    the limits this request already counted cleared. Raises RateLimitExceeded past the limit."""
    limiter = current_app.extensions[EXTENSION]
    if limiter is None:
        return
    limiter.context.seen_limits.clear()
    limiter._check_request_limit(in_middleware=True)  # what its before_request runs
