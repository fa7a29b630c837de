"""Threads: the conversations API's threads and the agents API's sessions (one Thread model behind both)."""
from sqlalchemy import select

from ..errors import NotFound
from ..extensions import db, openai_adapter
from ..models import Assistant, Message, Thread
from . import is_plausible_id, owned_select, release_connection, tenant
from .credentials import backend_api, connection_for
from .sessions import current_time, is_expired


def start_thread(assistant: Assistant) -> Thread:
    """A new thread; backends that keep history remotely get their conversation first."""
    remote_id = None
    if backend_api(assistant.credential) != "chat_completions":
        conn = connection_for(assistant.credential)
        release_connection()
        remote_id = openai_adapter.create_remote_thread(conn)
    thread = Thread(tenant=tenant(), assistant=assistant, remote_id=remote_id, last_active_at=current_time())
    db.session.add(thread)
    return thread


def find_thread(thread_id: str, assistant: Assistant | None = None) -> Thread:
    """The caller's thread (of this assistant, when given); 404 when missing or expired."""
    thread = None
    if is_plausible_id(thread_id):
        thread = db.session.scalar(owned_select(Thread), {"id": thread_id, "tenant": tenant()})
    if thread is None or (assistant is not None and thread.assistant_id != assistant.id):
        raise NotFound(f"No thread {thread_id[:128]!r} for this agent.")
    if is_expired(thread):
        raise NotFound(f"Thread {thread_id!r} expired: it was not used for more than "
                       f"{thread.assistant.session_max_ttl} seconds. Start a new one.")
    return thread


def delete_thread(thread: Thread) -> None:
    if thread.remote_id:
        conn = connection_for(thread.assistant.credential)
        release_connection()
        openai_adapter.delete_remote_thread(conn, thread.remote_id)
    db.session.delete(thread)


def list_messages(thread: Thread) -> list[Message]:
    return list(db.session.scalars(select(Message).where(Message.thread_id == thread.id).order_by(Message.position)))
