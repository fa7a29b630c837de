"""What one tenant (and each of its API keys) may use, decided here and checked by every entry point:

    tenant_limits.check_budget(caller)        # 429 once the key used its daily token budget today
    tenant_limits.take_turn_slot(caller.tenant)  # 429 past TENANT_MAX_CONCURRENT_TURNS in this worker
    tenant_limits.free_turn_slot(caller.tenant)
    tenant_limits.check_storage(tenant)       # 429 once it stores TENANT_MAX_STORED_BYTES (messages, files)

The turn pipeline (turns.start) checks the budget and takes a turn slot for every turn, whatever API
started it, blocking, streamed or in the background; the v2 API also checks the budget when a run is
created or resumed, so the request that would start it answers 429 at once."""
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, g
from sqlalchemy import LargeBinary, bindparam, cast, func, select

from .. import metrics
from ..errors import ServiceError
from ..extensions import db
from ..models import ApiKey, Message, Thread, TokenUsage
from ..retrieval_models import File
from .sessions import current_time

EXTENSION = "tenant_limits"
STORAGE_CACHE_SECONDS = 10.0  # a tenant's stored bytes are summed at most this often per worker

USED_SINCE = (select(func.coalesce(func.sum(TokenUsage.prompt_tokens + TokenUsage.completion_tokens), 0))
              .where(TokenUsage.api_key_id == bindparam("api_key_id"),
                     TokenUsage.created_at >= bindparam("since", type_=TokenUsage.created_at.type)))


def stored_bytes_query(dialect: str):
    """The bytes a tenant stores: the UTF-8 bytes of its message text (SQLite's length() of a BLOB counts
    bytes) and the bytes of its files."""
    size = (func.octet_length(Message.content) if dialect == "postgresql"
            else func.length(cast(Message.content, LargeBinary)))
    messages = (select(func.coalesce(func.sum(size), 0)).join(Thread, Thread.id == Message.thread_id)
                .where(Thread.tenant == bindparam("tenant")).scalar_subquery())
    files = (select(func.coalesce(func.sum(File.bytes), 0)).where(File.tenant == bindparam("tenant"))
             .scalar_subquery())
    return select(messages + files)


@dataclass(frozen=True)
class Caller:
    """Whose turn it is: its tenant and API key (the budget it spends, the usage rows it is billed in)
    and the API it came through. A request's comes from its key (auth.py fills flask.g); background
    work carries the caller it was started for."""

    tenant: str
    api_key_id: int | None
    daily_token_budget: int | None
    api: str

    @classmethod
    def of_request(cls, api: str) -> "Caller":
        return cls(g.tenant, g.get("api_key_id"), g.get("daily_token_budget"), api)

    @classmethod
    def of_key(cls, tenant: str, api_key_id: int | None, api: str) -> "Caller":
        """For work outside a request: the key's budget as it is now (set-budget applies at once)."""
        budget = None
        if api_key_id is not None:
            budget = db.session.scalar(select(ApiKey.daily_token_budget).where(ApiKey.id == api_key_id))
        return cls(tenant, api_key_id, budget, api)


def start_of_day(moment):
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def check_budget(caller: Caller) -> None:
    """429 when the caller's key has used its daily token budget (tokens since 00:00 UTC). Turns
    already running when it is reached finish: a budget can be passed by those."""
    budget = caller.daily_token_budget
    if budget is None or caller.api_key_id is None:
        return
    now = current_time()
    used = db.session.scalar(USED_SINCE, {"api_key_id": caller.api_key_id, "since": start_of_day(now)})
    if used >= budget:
        metrics.BUDGET_REFUSALS.inc()
        wait = max(1, int((start_of_day(now) + timedelta(days=1) - now).total_seconds()))
        raise ServiceError(429, f"This API key has used its daily token budget ({used} of {budget} tokens "
                                f"today); turns are accepted again at 00:00 UTC, in {wait} s.",
                           headers={"Retry-After": str(wait)})


class TenantState:
    """A worker's own counts: turns in flight per tenant, and stored bytes per tenant (cached)."""

    def __init__(self, app):
        self.max_turns = int(app.config["TENANT_MAX_CONCURRENT_TURNS"] or 0)
        self.max_stored = int(app.config["TENANT_MAX_STORED_BYTES"] or 0)
        self.turns: dict[str, int] = {}
        self.stored: dict[str, tuple[float, int]] = {}
        self.cache_seconds = STORAGE_CACHE_SECONDS
        self.lock = threading.Lock()


def init_app(app) -> None:
    app.extensions[EXTENSION] = TenantState(app)


def _state() -> TenantState:
    return current_app.extensions[EXTENSION]


def take_turn_slot(tenant: str) -> None:
    """One more turn of ``tenant`` in flight in this worker, or 429 past TENANT_MAX_CONCURRENT_TURNS:
    the provider connections of a worker are shared, and one tenant must not hold them all."""
    state = _state()
    with state.lock:
        count = state.turns.get(tenant, 0)
        if state.max_turns and count >= state.max_turns:
            raise ServiceError(429, f"This tenant has {count} turns in progress on this server, its most at "
                                    "once; retry when one has finished.", headers={"Retry-After": "1"})
        state.turns[tenant] = count + 1


def free_turn_slot(tenant: str, app=None) -> None:
    state = (app or current_app).extensions[EXTENSION]
    with state.lock:
        count = state.turns.get(tenant, 0) - 1
        if count > 0:
            state.turns[tenant] = count
        else:
            state.turns.pop(tenant, None)


def check_storage(tenant: str) -> None:
    """429 once ``tenant`` stores TENANT_MAX_STORED_BYTES or more of message text (off when 0). The sum
    is cached per worker for STORAGE_CACHE_SECONDS: a tenant may pass the quota by what it writes
    meanwhile, never by more."""
    state = _state()
    if not state.max_stored:
        return
    now = time.monotonic()
    cached = state.stored.get(tenant)
    if cached is None or cached[0] < now:
        query = stored_bytes_query(db.session.get_bind().dialect.name)
        used = int(db.session.scalar(query, {"tenant": tenant}))
        state.stored[tenant] = (now + state.cache_seconds, used)
    else:
        used = cached[1]
    if used >= state.max_stored:
        raise ServiceError(429, f"This tenant stores {used} bytes of messages and files, its quota is "
                                f"{state.max_stored}: delete threads or files it no longer needs to store "
                                "more.")
