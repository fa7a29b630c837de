"""Token usage: one TokenUsage row per recorded turn of every API, and the turn metrics
(assistants_chat_turns_total...) of each turn. The turn pipeline (turns.py) is their one user:

    meter = usage.TurnMeter(caller, assistant, backend)   # times the turn from here
    meter.ended(done) / meter.failed(error)              # ok / requires_action / error, and its tokens
    usage.add_usage(tenant=..., assistant_id=..., model=..., done=done, api_key_id=..., api=...)
    usage.record_usage(...)                              # the row in a small transaction of its own

A failed turn records nothing: rows are added only where a turn's reply is recorded. Budgets are
tenant_limits.py's."""
import time
from datetime import datetime

from sqlalchemy import delete, func, insert, select

from .. import metrics
from ..database import autocommit_if_fresh, execute_core
from ..errors import Conflict
from ..extensions import db
from ..models import Assistant, TokenUsage
from ..openai_adapter import TurnDone
from . import commit_keeping_loaded
from .sessions import current_time

# The table's Core insert: the ORM's bulk insert path costs 2-3 times as much (~100 µs on SQLite). Built
# once: composing a statement costs about as much as running it.
INSERT_USAGE = insert(TokenUsage.__table__)


def usage_row(*, tenant: str, assistant_id: str, model: str, done: TurnDone, api_key_id: int | None,
              api: str) -> dict:
    """A turn's TokenUsage row. A provider that reports no usage: the turn counts, with 0 tokens."""
    usage = done.usage
    return {"created_at": current_time(), "tenant": tenant, "api_key_id": api_key_id, "api": api,
            "assistant_id": assistant_id, "model": model[:200],
            "prompt_tokens": usage.prompt_tokens if usage else 0,
            "completion_tokens": usage.completion_tokens if usage else 0}


def add_usage(**turn) -> None:
    """Add a turn's usage_row() to the current transaction: the caller's commit writes it with the turn."""
    execute_core(INSERT_USAGE, usage_row(**turn))


def record_usage(*, autocommit: bool = True, **turn) -> None:
    """add_usage() and its commit: for a turn without a transaction of its own (stateless). The
    insert changes no loaded row, so they stay loaded (answering costs no query). On PostgreSQL, after
    the provider call (which gives the connection back), the insert runs in autocommit: one round trip,
    not BEGIN, INSERT, COMMIT -- unless it commits with other writes (``autocommit`` False)."""
    if autocommit:
        autocommit_if_fresh()
    add_usage(**turn)
    commit_keeping_loaded()


class TurnMeter:
    """Times one turn and counts how it ended, once (assistants_chat_turns_total, its histogram and
    the turn's tokens). What it needs of the assistant is read at once: a stream ends after the
    view's database session has closed."""

    __slots__ = ("api", "backend", "started", "done", "tenant", "assistant_id", "model", "open_stream")

    def __init__(self, caller, assistant: Assistant, backend: str):
        self.api, self.tenant = caller.api, caller.tenant
        self.backend = backend
        self.assistant_id, self.model = assistant.id, assistant.model  # the model: the request's, once known
        self.started = time.perf_counter()
        self.done = self.open_stream = False

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
    return [{key: str(group) if group_by == "day" else group, "turns": turns, "prompt_tokens": int(p),
             "completion_tokens": int(c),
             "total_tokens": int(p) + int(c)} for group, turns, p, c in rows]


def purge_before(moment: datetime) -> int:
    """Delete every tenant's usage rows older than ``moment`` (retention); how many went."""
    deleted = db.session.execute(delete(TokenUsage).where(TokenUsage.created_at < moment)).rowcount
    db.session.commit()
    return deleted
