"""Threads: the conversations API's threads and the agents API's sessions (one Thread model behind
both, so a session is also a thread there). The Assistants API's threads (no assistant of their
own) are not theirs: every lookup here answers 404 for one, as /v1 does for these."""
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from ..errors import NotFound
from ..extensions import db, openai_adapter
from ..models import Assistant, Message, Thread
from . import is_plausible_id, owned_select, pages, tenant
from .assistants import get_assistant
from .credentials import backend_api, connection_for
from .sessions import current_time, is_expired


def start_thread(assistant: Assistant) -> Thread:
    """A new thread; backends that keep history remotely get their conversation first."""
    remote_id = None
    if backend_api(assistant.credential) != "chat_completions":
        conn = connection_for(assistant.credential)
        remote_id = openai_adapter.create_remote_thread(conn)
    thread = Thread(tenant=tenant(), assistant=assistant, remote_id=remote_id, last_active_at=current_time())
    db.session.add(thread)
    return thread


# A turn's thread with its assistant (and the assistant's credential) in one query.
WITH_ASSISTANT = (select(Thread).options(joinedload(Thread.assistant))
                  .where(Thread.id == bindparam("id"), Thread.tenant == bindparam("tenant")))


def find_agent_thread(agent_id: str, thread_id: str) -> Thread:
    """The caller's thread of agent ``agent_id`` (its id or details.id), its assistant loaded with
    it: one query where get_assistant() and find_thread() take two. A thread that is not that
    agent's gets their answers, in their order (an unknown agent first)."""
    thread = None
    if is_plausible_id(thread_id):
        thread = db.session.scalar(WITH_ASSISTANT, {"id": thread_id, "tenant": tenant()})
    if thread is None or thread.assistant is None or agent_id not in (thread.assistant.id,
                                                                      thread.assistant.details_id):
        return find_thread(thread_id, get_assistant(agent_id))
    _check_not_expired(thread)
    return thread


def find_thread(thread_id: str, assistant: Assistant | None = None) -> Thread:
    """The caller's thread (of this assistant, when given); 404 when missing or expired, and for an
    Assistants API thread (no assistant of its own): that API's alone."""
    thread = None
    if is_plausible_id(thread_id):
        thread = db.session.scalar(owned_select(Thread), {"id": thread_id, "tenant": tenant()})
    if thread is not None and thread.assistant_id is None:
        raise NotFound(f"No thread {thread_id!r} for this API: it is an Assistants API thread, used at "
                       "/v1/threads.")
    if thread is None or (assistant is not None and thread.assistant_id != assistant.id):
        raise NotFound(f"No thread {thread_id[:128]!r} for this agent.")
    _check_not_expired(thread)
    return thread


def _check_not_expired(thread: Thread) -> None:
    if is_expired(thread):
        raise NotFound(f"Thread {thread.id!r} expired: it was not used for more than "
                       f"{thread.assistant.session_max_ttl} seconds. Start a new one.")


def delete_thread(thread: Thread) -> None:
    if thread.remote_id:
        conn = connection_for(thread.assistant.credential)
        openai_adapter.delete_remote_thread(conn, thread.remote_id)
    db.session.delete(thread)


def list_messages(thread: Thread, params: dict) -> dict:
    """A page of the thread's messages, oldest first (bounded in count and in bytes: pages.py)."""
    query = select(Message).where(Message.thread_id == thread.id)

    def cursor_of(message_id):
        position = db.session.scalar(select(Message.position).where(Message.thread_id == thread.id,
                                                                    Message.id == message_id))
        return (position,) if position is not None else None

    found = pages.page(query, (Message.position,), cursor_of, {**params, "order": "asc"},
                       size=pages.text_bytes(Message.content))
    return {"data": found.rows, "has_more": found.has_more,
            "last_id": found.rows[-1].id if found.rows else None}
