"""A stored thread's turn lock: one turn at a time per thread, across workers and hosts.

The lock is a random token in the thread's row, taken and released by atomic UPDATEs, so it
needs no lock service. A lock older than any turn can last belongs to a worker that died and
may be taken again; the turn that held it then finds, when it records, that it lost it."""
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import bindparam, or_, select, update

from ..errors import Conflict, NotFound
from ..extensions import db
from ..models import Thread, utcnow
from . import commit_keeping_loaded

# Built once: composing a statement costs about as much as running it (~0.1 ms).
TAKE = (
    update(Thread)
    .where(Thread.id == bindparam("thread_id"),
           or_(Thread.turn_token.is_(None),
               Thread.turn_started_at < bindparam("stale_before", type_=Thread.turn_started_at.type)))
    .values(turn_token=bindparam("token", type_=Thread.turn_token.type),
            turn_started_at=bindparam("now", type_=Thread.turn_started_at.type))
    .execution_options(synchronize_session=False)
)
RELEASE = (
    update(Thread)
    .where(Thread.id == bindparam("thread_id"), Thread.turn_token == bindparam("token"))
    .values(turn_token=None, turn_started_at=None)
    .execution_options(synchronize_session=False)
)
THREAD_EXISTS = select(Thread.id).where(Thread.id == bindparam("thread_id"))


def stale_after() -> timedelta:
    # A lock older than any turn can last belongs to a crashed worker.
    return timedelta(seconds=current_app.config["OPENAI_TIMEOUT"] + 30)


def take(thread: Thread) -> str:
    """Take the thread's turn lock and commit, or raise Conflict; returns the lock's token."""
    token = secrets.token_hex(16)
    now = utcnow()
    taken = db.session.execute(TAKE, {"thread_id": thread.id, "token": token, "now": now,
                                      "stale_before": now - stale_after()}).rowcount
    commit_keeping_loaded()  # the assistant stays loaded: no query to read it again
    db.session.expire(thread)  # but the thread is read again: the turn before this one may just have ended
    if taken != 1:
        raise Conflict("A turn is in progress on this thread; wait for it to finish.")
    return token


def free(thread_id: str, token: str) -> None:
    """Give the lock back, writing nothing else (a failed or abandoned turn)."""
    db.session.rollback()
    db.session.execute(RELEASE, {"thread_id": thread_id, "token": token})
    db.session.commit()


def release_for_record(thread_id: str, token: str) -> None:
    """Release the lock inside the transaction that records the turn, or raise (after a rollback)
    when the thread was deleted or its lock taken over meanwhile: the reply must not be stored."""
    if db.session.execute(RELEASE, {"thread_id": thread_id, "token": token}).rowcount == 1:
        return
    db.session.rollback()
    if db.session.scalar(THREAD_EXISTS, {"thread_id": thread_id}) is None:
        raise NotFound(f"Thread {thread_id!r} was deleted while its turn ran: the reply was not stored.")
    raise Conflict("This turn outlasted its lock and another turn took the thread: the reply was not stored.")
