"""Sessions' lifetime: a thread (conversations API) or session (agents API) not written to for longer
than its assistant's session_max_ttl has expired; `flask threads purge` deletes the expired.

The clock is app.config["CLOCK"] (a callable returning an aware UTC datetime) when set,
so tests can move time; otherwise the system clock."""
import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from ..extensions import db, openai_adapter
from ..models import Assistant, Thread, utcnow
from ..openai_adapter import ProviderError
from .credentials import ProviderNotConfigured, connection_for

log = logging.getLogger(__name__)

REMOTE_DELETE_TIMEOUT = 10.0


def current_time() -> datetime:
    clock = current_app.config.get("CLOCK")
    return clock() if clock else utcnow()


def is_expired(thread: Thread, now=None) -> bool:
    ttl = thread.assistant.session_max_ttl if thread.assistant is not None else None  # v2 threads: none
    if not ttl:
        return False
    return (now or current_time()) - thread.last_active_at > timedelta(seconds=ttl)


def purge_expired() -> int:
    """Delete every thread (of every tenant) idle for longer than its assistant's session_max_ttl;
    their provider-side conversations too, best effort. Returns how many were deleted."""
    count = 0
    moment = current_time()
    ttl_assistants = db.session.scalars(select(Assistant).where(Assistant.session_max_ttl.is_not(None))).all()
    for assistant in ttl_assistants:
        cutoff = moment - timedelta(seconds=assistant.session_max_ttl)
        expired = db.session.scalars(select(Thread).where(
            Thread.assistant_id == assistant.id, Thread.last_active_at < cutoff,
            Thread.turn_token.is_(None))).all()  # a turn in progress finishes first
        for thread in expired:
            _delete_remote(thread)
            db.session.delete(thread)
            count += 1
        db.session.commit()
    return count


def _delete_remote(thread: Thread) -> None:
    if not thread.remote_id:
        return
    try:
        conn = connection_for(thread.assistant.credential)
        openai_adapter.delete_remote_thread(conn, thread.remote_id, timeout=REMOTE_DELETE_TIMEOUT)
    except (ProviderNotConfigured, ProviderError) as err:
        log.warning("could not delete remote thread %s: %s", thread.remote_id, getattr(err, "message", err))
