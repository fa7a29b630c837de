"""Token usage: one TokenUsage row per recorded turn of every API, daily token budgets per API key,
and the turn metrics (assistants_chat_turns_total...) of each turn.

    with usage.start_turn(assistant, thread) as meter:   # check_budget() (429 once today's budget is used),
        ...                                             # then time the turn; an exception ends it failed
        meter.ended(done)                               # ok / requires_action, and its tokens
    usage.add_usage(tenant=..., assistant_id=..., model=..., done=done)   # the row, in the caller's commit
    usage.record_usage(...)                             # the row in a small transaction of its own

A failed turn records nothing: rows are added only where a turn's reply is recorded."""
import time
from datetime import datetime, timedelta

from flask import g, has_request_context, request
from sqlalchemy import bindparam, delete, func, insert, select

from .. import metrics
from ..database import autocommit_if_fresh
from ..errors import Conflict, ServiceError
from ..extensions import db
from ..models import Assistant, Thread, TokenUsage
from ..openai_adapter import TurnDone
from . import commit_keeping_loaded
from .credentials import backend_api
from .sessions import current_time

# The API a turn came through, by blueprint: a bounded label, and the `api` column of its usage.
API_OF_BLUEPRINT = {"openai": "conversations", "agents": "agents", "agents-as-assistants": "agents",
                    "assistants_v2": "assistants_v2"}

# The table's Core insert: the ORM's bulk insert path costs 2-3 times as much (~100 µs on SQLite). Built
# once: composing a statement costs about as much as running it.
INSERT_USAGE = insert(TokenUsage.__table__)
USED_SINCE = select(func.coalesce(func.sum(TokenUsage.prompt_tokens + TokenUsage.completion_tokens), 0)).where(
    TokenUsage.api_key_id == bindparam("api_key_id"),
    TokenUsage.created_at >= bindparam("since", type_=TokenUsage.created_at.type))


def current_api() -> str:
    """The API of the request being served ("conversations", "agents", ...)."""
    if not has_request_context() or request.blueprint is None:
        return "other"
    return API_OF_BLUEPRINT.get(request.blueprint, request.blueprint)


def usage_row(*, tenant: str, assistant_id: str, model: str, done: TurnDone, api_key_id: int | None = None,
              api: str | None = None) -> dict:
    """A turn's TokenUsage row. ``api_key_id`` and ``api`` default to the request's (a background run
    passes its own). A provider that reports no usage: the turn counts, with 0 tokens."""
    usage = done.usage
    return {"created_at": current_time(), "tenant": tenant,
            "api_key_id": api_key_id if api_key_id is not None else g.get("api_key_id"),
            "api": api or current_api(), "assistant_id": assistant_id, "model": model[:200],
            "prompt_tokens": usage.prompt_tokens if usage else 0,
            "completion_tokens": usage.completion_tokens if usage else 0}


def add_usage(**turn) -> None:
    """Add a turn's usage_row() to the current transaction: the caller's commit writes it with the turn."""
    db.session.execute(INSERT_USAGE, usage_row(**turn))


def record_usage(**turn) -> None:
    """add_usage() and its commit: for a turn without a transaction of its own (stateless). The
    insert changes no loaded row, so they stay loaded (answering costs no query). On PostgreSQL, after
    release_connection(), the insert runs in autocommit: one round trip, not BEGIN, INSERT, COMMIT."""
    autocommit_if_fresh()
    add_usage(**turn)
    commit_keeping_loaded()


def start_of_day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def check_budget() -> None:
    """429 when the request's API key has used its daily token budget (tokens since 00:00 UTC).
    Turns already running when it is reached finish: a budget can be passed by those."""
    budget = g.get("daily_token_budget")
    if budget is None:
        return
    now = current_time()
    used = db.session.scalar(USED_SINCE, {"api_key_id": g.api_key_id, "since": start_of_day(now)})
    if used >= budget:
        metrics.BUDGET_REFUSALS.inc()
        wait = max(1, int((start_of_day(now) + timedelta(days=1) - now).total_seconds()))
        raise ServiceError(429, f"This API key has used its daily token budget ({used} of {budget} tokens "
                                f"today); turns are accepted again at 00:00 UTC, in {wait} s.",
                           headers={"Retry-After": str(wait)})


def start_turn(assistant: Assistant, thread: Thread | None) -> "TurnMeter":
    """check_budget(), then a TurnMeter for the turn (a context manager: an exception ends it failed)."""
    check_budget()
    return TurnMeter(assistant, "chat_completions" if thread is None else backend_api(assistant.credential))


class TurnMeter:
    """Times one turn and counts how it ended, once (assistants_chat_turns_total, its histogram and
    the turn's tokens). What it needs of the assistant is read at once: a stream ends after the
    view's database session has closed."""

    __slots__ = ("api", "backend", "started", "done", "tenant", "assistant_id", "model", "open_stream")

    def __init__(self, assistant: Assistant, backend: str, api: str | None = None):
        self.api = api or current_api()
        self.backend = backend
        self.tenant, self.assistant_id, self.model = assistant.tenant, assistant.id, assistant.model
        self.started = time.perf_counter()
        self.done = self.open_stream = False

    def __enter__(self) -> "TurnMeter":
        return self

    def __exit__(self, kind, error, traceback) -> bool:
        if error is not None:
            self.failed(error)
        return False

    def streaming(self) -> "TurnMeter":
        """The turn is a stream now open (assistants_active_streams) until stream_closed()."""
        self.open_stream = True
        metrics.ACTIVE_STREAMS.inc()
        return self

    def stream_closed(self) -> None:
        self.failed()  # no-op once ended
        if self.open_stream:
            self.open_stream = False
            metrics.ACTIVE_STREAMS.dec()

    def record(self, done: TurnDone) -> None:
        """A stateless turn's usage: it has no commit of its own, so a small one after the reply."""
        record_usage(tenant=self.tenant, assistant_id=self.assistant_id, model=self.model, done=done)

    def ended(self, done: TurnDone) -> None:
        if not self.done:
            self.done = True
            metrics.observe_turn(self.api, self.backend, "requires_action" if done.tool_calls else "ok",
                                 time.perf_counter() - self.started)
            if done.usage is not None:
                metrics.count_tokens(self.model, done.usage.prompt_tokens, done.usage.completion_tokens,
                                     self.tenant)

    def failed(self, error: BaseException | None = None) -> None:
        if not self.done:
            self.done = True
            outcome = "conflict" if isinstance(error, Conflict) else "error"
            metrics.observe_turn(self.api, self.backend, outcome, time.perf_counter() - self.started)


# GET /usage: the grouping column of each group_by, and its key in the answer.
GROUP_KEYS = {"assistant": "assistant_id", "model": "model", "api_key": "api_key_id", "day": "day"}


def _day(dialect: str):
    """A row's UTC date as YYYY-MM-DD (SQLite stores UTC text; PostgreSQL a timestamptz)."""
    if dialect == "postgresql":  # a date: grouping on it is 3 times cheaper than on to_char()'s text
        return func.date(func.timezone("UTC", TokenUsage.created_at))
    return func.substr(TokenUsage.created_at, 1, 10)


def usage_report(tenant: str, start: datetime, end: datetime, group_by: str) -> list[dict]:
    """The tenant's turns and tokens in [start, end), one entry per group, in the group's order."""
    key = GROUP_KEYS[group_by]
    column = _day(db.session.get_bind().dialect.name) if group_by == "day" else getattr(TokenUsage, key)
    prompt, completion = func.sum(TokenUsage.prompt_tokens), func.sum(TokenUsage.completion_tokens)
    rows = db.session.execute(
        select(column.label("group"), func.count(), prompt, completion)
        .where(TokenUsage.tenant == tenant, TokenUsage.created_at >= start, TokenUsage.created_at < end)
        .group_by(column).order_by(column))
    return [{key: str(group) if group_by == "day" else group, "turns": turns, "prompt_tokens": int(p), "completion_tokens": int(c),
             "total_tokens": int(p) + int(c)} for group, turns, p, c in rows]


def purge_before(moment: datetime) -> int:
    """Delete every tenant's usage rows older than ``moment`` (retention); how many went."""
    deleted = db.session.execute(delete(TokenUsage).where(TokenUsage.created_at < moment)).rowcount
    db.session.commit()
    return deleted
