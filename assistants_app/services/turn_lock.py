"""A stored thread's turn lock: one turn at a time per thread, across workers and hosts.

The lock is a token in the thread's row, taken and released by atomic UPDATEs, so it
needs no lock service. A lock older than any turn can last belongs to a worker that died and
may be taken again; the turn that held it then finds, when it records, that it lost it."""
import functools
from datetime import timedelta
from typing import NoReturn

from flask import current_app
from sqlalchemy import bindparam, cast, exists, func, insert, or_, select, union_all, update
from sqlalchemy.orm.attributes import set_committed_value

from ..database import execute_core
from ..errors import Conflict, NotFound
from ..extensions import db
from ..models import Message, Thread, TokenUsage, utcnow
from ..workers import new_turn_token
from . import commit_keeping_loaded

# Core statements on the tables, built once: the ORM's versions of these cost ~0.3 ms more each to
# run (its bulk-update and entity machinery), composing one as much as running it (~0.1 ms).
THREADS, MESSAGES = Thread.__table__.c, Message.__table__.c

# What a turn needs to know about its thread once it holds the lock (the turn before it may have
# changed it since the thread was read): the lock's UPDATE returns it, so no SELECT follows.
LAST_POSITION = (select(func.coalesce(func.max(MESSAGES.position), -1))
                 .where(MESSAGES.thread_id == bindparam("thread_id")).scalar_subquery())
LOCKED_STATE = (THREADS.remote_id, THREADS.pending_tool_calls, THREADS.pending_run_id)

TAKE = (
    update(Thread.__table__)
    .where(THREADS.id == bindparam("thread_id"),
           or_(THREADS.turn_token.is_(None),
               THREADS.turn_started_at < bindparam("stale_before", type_=THREADS.turn_started_at.type)))
    .values(turn_token=bindparam("token", type_=THREADS.turn_token.type),
            turn_started_at=bindparam("now", type_=THREADS.turn_started_at.type))
    .returning(*LOCKED_STATE, LAST_POSITION)
)
RELEASE = (
    update(Thread.__table__)
    .where(THREADS.id == bindparam("thread_id"), THREADS.turn_token == bindparam("token"))
    .values(turn_token=None, turn_started_at=None)
)
# The turn's outcome on its thread, written with the lock's release by one UPDATE.
RECORD = (
    update(Thread.__table__)
    .where(THREADS.id == bindparam("thread_id"), THREADS.turn_token == bindparam("token"))
    .values(turn_token=None, turn_started_at=None,
            **{column.key: bindparam(column.key, type_=column.type)
               for column in (THREADS.last_active_at, THREADS.pending_tool_calls, THREADS.pending_run_id)})
)
THREAD_EXISTS = select(THREADS.id).where(THREADS.id == bindparam("thread_id"))


def stale_after() -> timedelta:
    # A lock older than any turn can last belongs to a crashed worker.
    return timedelta(seconds=current_app.config["OPENAI_TIMEOUT"] + 30)


def take(thread: Thread, *, commit: bool = True) -> tuple[str, int]:
    """Take the thread's turn lock and commit, or raise Conflict; returns the lock's token and the
    position of the thread's last message. ``thread`` is brought up to date without a query.
    ``commit=False``: the caller commits (a turn reads its history first: one commit, one round
    trip, fewer); a rollback before then gives the lock back."""
    token = new_turn_token()  # names this worker: if it dies, its master frees the lock at once
    now = utcnow()
    taken = execute_core(TAKE, {"thread_id": thread.id, "token": token, "now": now,
                                "stale_before": now - stale_after()}).first()
    if commit or taken is None:
        commit_keeping_loaded()  # the assistant and the thread stay loaded: no query to read them again
    if taken is None:
        raise Conflict("A turn is in progress on this thread; wait for it to finish.")
    for column, value in zip(LOCKED_STATE, taken):
        set_committed_value(thread, column.key, value)
    db.session.expire(thread, ["messages"])  # read after the lock: the previous turn's are in
    return token, taken[-1]


def last_position(thread_id: str) -> int:
    """The position of the thread's last message (for a turn whose lock was taken earlier)."""
    return execute_core(select(LAST_POSITION), {"thread_id": thread_id}).scalar()


def free(thread_id: str, token: str) -> None:
    """Give the lock back, writing nothing else (a failed or abandoned turn)."""
    db.session.rollback()
    execute_core(RELEASE, {"thread_id": thread_id, "token": token})
    db.session.commit()


def release_for_record(thread: Thread, token: str, **state) -> None:
    """Release the lock and write the turn's outcome (``state``: last_active_at, pending_tool_calls,
    pending_run_id) to the thread's row, inside the transaction that records the turn; or raise (after
    a rollback) when the thread was deleted or its lock taken over meanwhile: the reply must not be stored."""
    if execute_core(RECORD, {"thread_id": thread.id, "token": token, **state}).rowcount == 1:
        return _recorded(thread, state)
    _refuse_record(thread.id)


def record_in_one_statement(thread: Thread, token: str, state: dict, messages: list[dict],
                            usage: dict) -> None:
    """release_for_record(), the messages' INSERT and the usage row's, as one statement (PostgreSQL):
    the inserts happen only if the thread's UPDATE matched. In autocommit (autocommit_if_fresh()) that
    is one round trip for the whole record, where the transaction takes five."""
    parameters = {"thread_id": thread.id, "token": token, **state,
                  **{f"{key}_u": value for key, value in usage.items()}}
    for number, row in enumerate(messages):
        parameters.update({f"{key}_{number}": value for key, value in row.items()})
    statement = _recording(tuple(messages[0]), len(messages), tuple(usage))
    if execute_core(statement, parameters).scalar_one() == 1:
        return _recorded(thread, state)
    _refuse_record(thread.id)


@functools.lru_cache(maxsize=64)
def _recording(message_keys: tuple[str, ...], count: int, usage_keys: tuple[str, ...]):
    """WITH recorded AS (RECORD ... RETURNING id), then INSERT ... SELECT <the rows> WHERE EXISTS
    (recorded) for the messages and the usage row; the count of recorded (0 or 1) is its result.
    Every value is cast to its column's type: a bare parameter in a SELECT list is text to PostgreSQL."""
    recorded = RECORD.returning(THREADS.id).cte("recorded")
    matched = exists(select(recorded.c.id))

    def values(table, keys, suffix):
        return select(*[cast(bindparam(f"{key}{suffix}", type_=table.c[key].type), table.c[key].type)
                        for key in keys]).where(matched)
    rows = [values(Message.__table__, message_keys, f"_{number}") for number in range(count)]
    writes = (
        insert(Message.__table__).from_select(message_keys, rows[0] if count == 1 else union_all(*rows)),
        insert(TokenUsage.__table__).from_select(usage_keys, values(TokenUsage.__table__, usage_keys, "_u")),
    )
    return select(func.count()).select_from(recorded).add_cte(
        *(write.cte(name) for write, name in zip(writes, ("messages_written", "usage_written"))))


def _recorded(thread: Thread, state: dict) -> None:
    """The loaded thread holds what the record wrote: answering costs no query."""
    for name, value in {**state, "turn_token": None, "turn_started_at": None}.items():
        set_committed_value(thread, name, value)


def _refuse_record(thread_id: str) -> NoReturn:
    """The thread was deleted, or its lock taken over, while the turn ran: nothing is written."""
    db.session.rollback()
    if db.session.scalar(THREAD_EXISTS, {"thread_id": thread_id}) is None:
        raise NotFound(f"Thread {thread_id!r} was deleted while its turn ran: the reply was not stored.")
    raise Conflict("This turn outlasted its lock and another turn took the thread: the reply was not stored.")
