"""Bearer API keys, and the operator's METRICS_TOKEN for GET /metrics: ApiKeyAuth.init_app(app) makes
every route but the public ones need one. Keys are long random strings, so they are stored as SHA-256
digests (a slow password hash would cost every request tens of milliseconds)."""
import hashlib
import hmac
import secrets
import threading
import time

from flask import current_app, g, jsonify, request
from sqlalchemy import select

from .auth_failures import EXTENSION as FAILURES, AuthFailures
from .database import db
from .errors import shape_for_blueprint
from .models import ApiKey, utcnow

KEY_PREFIX = "sk-asst-"
# Known keys are remembered briefly so a request costs no query (one a second per key and worker at
# most); a revocation reaches the other worker processes and hosts within this many seconds.
KEY_CACHE_SECONDS = 1.0
PUBLIC_BLUEPRINTS = {"api-docs", "public", "health", "playground"}
EXTENSION = "api_key_cache"
MIN_METRICS_TOKEN = 16
METRICS_OFF = ("GET /metrics is the operator's and is not enabled: set METRICS_TOKEN (the scraper sends "
               "'Authorization: Bearer <METRICS_TOKEN>') or METRICS_PUBLIC=true.")


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(name: str, tenant: str = "default",
                   daily_token_budget: int | None = None) -> tuple[ApiKey, str]:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name, tenant=tenant, key_digest=digest(key), key_prefix=key[:12],
                 daily_token_budget=daily_token_budget)
    db.session.add(row)
    db.session.commit()
    return row, key


def revoke_api_key(row: ApiKey) -> None:
    row.revoked_at = utcnow()
    db.session.commit()
    current_app.extensions[EXTENSION].clear()


class KeyCache(dict):
    """Known keys' (tenant, id, daily token budget) by digest, each until its expiry (an app's own)."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()


class ApiKeyAuth:
    """The Flask extension: every route but the public ones needs a valid Bearer key."""

    def init_app(self, app) -> None:
        if app.config["METRICS_TOKEN"] and len(app.config["METRICS_TOKEN"]) < MIN_METRICS_TOKEN:
            raise RuntimeError(f"METRICS_TOKEN is shorter than {MIN_METRICS_TOKEN} characters: use a long "
                               "random one (python3 -c 'import secrets; print(secrets.token_urlsafe(32))')")
        app.extensions[EXTENSION] = KeyCache()
        app.extensions[FAILURES] = AuthFailures(app)
        app.before_request(require_api_key)


def _key_for(key: str) -> tuple | None:
    """(tenant, key id, daily token budget) of a valid key; None for an unknown or revoked one."""
    key_digest = digest(key)
    cache = current_app.extensions[EXTENSION]
    hit = cache.get(key_digest)
    if hit and hit[1] > time.monotonic():
        return hit[0]
    row = db.session.scalar(select(ApiKey).where(ApiKey.key_digest == key_digest))
    # The index found the row by digest; compare again in constant time all the same.
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.key_digest, key_digest):
        return None
    found = (row.tenant, row.id, row.daily_token_budget)
    with cache.lock:
        if len(cache) > 10_000:
            cache.clear()
        cache[key_digest] = (found, time.monotonic() + KEY_CACHE_SECONDS)
    return found


def unauthorized(message: str):
    response = jsonify(shape_for_blueprint(request.blueprint).body(401, message))
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer realm="assistants_app"'
    return response


def bearer_key() -> str | None:
    """The key of the request's `Authorization: Bearer <key>` header, if it has one."""
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    return key.strip() if scheme.lower() == "bearer" and key.strip() else None


def require_api_key():
    """before_request: every route but the public ones needs a valid Bearer key."""
    if request.endpoint is None or request.blueprint in PUBLIC_BLUEPRINTS or request.method == "OPTIONS":
        return None
    if request.blueprint == "metrics":
        return require_metrics_token()
    key = bearer_key()
    if key is None:
        return unauthorized("Missing Bearer API key: send 'Authorization: Bearer <api key>'.")
    found = _key_for(key)
    if found is None:
        current_app.extensions[FAILURES].count(request.remote_addr)  # 429 once the address is past its limit
        return unauthorized("Invalid or revoked API key.")
    g.tenant, g.api_key_id, g.daily_token_budget = found
    return None


def require_metrics_token():
    """/metrics shows every tenant's traffic: the operator's METRICS_TOKEN, or no credential with
    METRICS_PUBLIC. A tenant's API key is a wrong token here, counted as a failure like a wrong key."""
    config = current_app.config
    if config["METRICS_PUBLIC"]:
        return None
    if not config["METRICS_TOKEN"]:
        return unauthorized(METRICS_OFF)
    token = bearer_key()
    if token is None:
        return unauthorized("Missing Bearer token: send 'Authorization: Bearer <METRICS_TOKEN>'.")
    # Digests of equal length: compare_digest's time then says nothing of the token's length either.
    if not hmac.compare_digest(digest(token), digest(config["METRICS_TOKEN"])):
        current_app.extensions[FAILURES].count(request.remote_addr)
        return unauthorized("Wrong metrics token: GET /metrics takes the operator's METRICS_TOKEN, "
                            "not an API key.")
    return None
