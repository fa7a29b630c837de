"""v2 threads: a Thread row without an assistant (each run names one), and its messages."""
from sqlalchemy import select

from ...errors import Conflict, NotFound
from ...extensions import db, openai_adapter
from ...models import Message, Run, Thread
from .. import is_plausible_id, owned_select, pages, tenant, tenant_limits, turn_lock
from ..credentials import connection_for
from ..retrieval import file_search
from ..sessions import current_time
from . import ActiveRun, listing, timestamp

ACTIVE = ("queued", "in_progress", "requires_action", "cancelling")


def present(thread: Thread) -> dict:
    return {"id": thread.id, "object": "thread", "created_at": timestamp(thread.created_at),
            "metadata": thread.thread_metadata or {}, "tool_resources": thread.tool_resources or {}}


def get(thread_id: str) -> Thread:
    """The caller's v2 thread; 404 for any other (the other APIs' threads are theirs)."""
    thread = None
    if is_plausible_id(thread_id):
        thread = db.session.scalar(owned_select(Thread), {"id": thread_id, "tenant": tenant()})
    if thread is None:
        raise NotFound(f"No thread found with id '{thread_id[:128]}'.")
    if thread.assistant_id is not None:
        raise NotFound(f"No thread found with id '{thread_id}': it is a thread of the conversations API "
                       "(/openai/*) or a session of the agents API, not an Assistants API thread.")
    return thread


def create(fields: dict) -> Thread:
    if fields.get("messages"):
        tenant_limits.check_storage(tenant())
    thread = Thread(tenant=tenant(), assistant=None, last_active_at=current_time(),
                    thread_metadata=fields.get("metadata") or {},
                    tool_resources=file_search.check_tool_resources(fields.get("tool_resources"), tenant()))
    db.session.add(thread)
    db.session.flush()
    for position, message in enumerate(fields.get("messages") or ()):
        db.session.add(_message_row(thread, position, message))
    return thread


def modify(thread: Thread, fields: dict) -> Thread:
    if "metadata" in fields:
        thread.thread_metadata = fields["metadata"] or {}
    if "tool_resources" in fields:
        thread.tool_resources = file_search.check_tool_resources(fields["tool_resources"], tenant())
    return thread


def delete(thread: Thread) -> dict:
    """The thread, its messages and runs; a provider-side conversation too (best effort is
    not enough here: a failure deletes nothing)."""
    if thread.remote_id:
        # The provider conversation is reached with the credential of the last run's assistant that is
        # still there; with every one of them deleted, no credential is known: the local rows go alone.
        last = db.session.scalar(select(Run).where(Run.thread_id == thread.id, Run.assistant_id.is_not(None))
                                 .order_by(Run.created_at.desc()))
        if last is not None:
            conn = connection_for(last.assistant.credential)
            openai_adapter.delete_remote_thread(conn, thread.remote_id)
    db.session.delete(thread)
    return {"id": thread.id, "object": "thread.deleted", "deleted": True}


# ---------------------------------------------------------------- messages

def _message_row(thread: Thread, position: int, fields: dict, **stamp) -> Message:
    return Message(thread_id=thread.id, position=position, role=fields["role"], content=fields["content"],
                   attachments=fields.get("attachments") or [], message_metadata=fields.get("metadata") or {},
                   **stamp)


def active_run(thread: Thread) -> Run | None:
    return db.session.scalar(select(Run).where(Run.thread_id == thread.id, Run.status.in_(ACTIVE)))


def add_messages(thread: Thread, messages: list[dict]) -> list[Message]:
    """Append messages while no run is active: under the thread's turn lock, so a run that ends
    meanwhile cannot take the same positions."""
    tenant_limits.check_storage(tenant())
    try:
        token, last_position = turn_lock.take(thread)
    except Conflict:
        raise ActiveRun(thread.id) from None
    running = active_run(thread)
    if running is not None:
        turn_lock.free(thread.id, token)
        raise ActiveRun(thread.id, running.id)
    rows = [_message_row(thread, last_position + 1 + offset, message)
            for offset, message in enumerate(messages)]
    db.session.add_all(rows)
    db.session.execute(turn_lock.RELEASE, {"thread_id": thread.id, "token": token})  # with the rows' commit
    thread.last_active_at = current_time()
    return rows


def present_message(message: Message, thread_id: str, assistant_ids: dict,
                    searches: dict | None = None) -> dict:
    """``assistant_ids``: run id -> the asst_ id of its assistant (public_ids()); ``searches``: run id ->
    its file_search results (searches_of()), for the citations of a reply."""
    cited = file_search.annotations(message.content, (searches or {}).get(message.run_id, ()))
    return {
        "id": message.id, "object": "thread.message", "created_at": timestamp(message.created_at),
        "thread_id": thread_id, "status": "completed", "incomplete_details": None,
        "completed_at": timestamp(message.created_at), "incomplete_at": None, "role": message.role,
        "content": [{"type": "text", "text": {"value": message.content or "", "annotations": cited}}],
        "assistant_id": assistant_ids.get(message.run_id) if message.assistant_id else None,
        "run_id": message.run_id,
        "attachments": message.attachments or [], "metadata": message.message_metadata or {},
    }


def searches_of(messages: list[Message]) -> dict:
    """run id -> the details of its file_search calls, for the replies among ``messages`` that cite."""
    runs = {m.run_id for m in messages if m.role == "assistant" and m.run_id and "【" in (m.content or "")}
    if not runs:
        return {}
    found: dict = {}
    for row in db.session.scalars(select(Message).where(Message.run_id.in_(runs), Message.role == "tool")):
        found.setdefault(row.run_id, []).extend(file_search.details_of([row]))
    return found


def public_ids(messages: list[Message]) -> dict:
    """Run id -> the asst_ id of its assistant, for the messages' assistant_id: kept by the run, so a
    reply still names its assistant once that is deleted."""
    ids = {m.run_id for m in messages if m.assistant_id and m.run_id}
    if not ids:
        return {}
    return dict(db.session.execute(select(Run.id, Run.assistant_public_id).where(Run.id.in_(ids))).all())


def visible_messages(thread: Thread):
    """The messages the v2 API shows: user and assistant text (tool calls are run steps)."""
    return select(Message).where(Message.thread_id == thread.id, Message.role.in_(("user", "assistant")),
                                 Message.is_summary.is_(False), Message.content.is_not(None))


def get_message(thread: Thread, message_id: str) -> Message:
    row = None
    if is_plausible_id(message_id):
        row = db.session.scalar(visible_messages(thread).where(Message.id == message_id))
    if row is None:
        raise NotFound(f"No message found with id '{message_id[:128]}'.")
    return row


def list_messages(thread: Thread, params: dict) -> dict:
    query = visible_messages(thread)
    if "run_id" in params:
        query = query.where(Message.run_id == params["run_id"])

    def cursor_of(message_id):
        row = db.session.scalar(visible_messages(thread).where(Message.id == message_id))
        return (row.position,) if row is not None else None

    found = pages.page(query, (Message.position,), cursor_of, params, size=pages.text_bytes(Message.content))
    ids, searches = public_ids(found.rows), searches_of(found.rows)
    return listing([present_message(m, thread.id, ids, searches) for m in found.rows], found.has_more)


def present_one(message: Message, thread: Thread) -> dict:
    return present_message(message, thread.id, public_ids([message]), searches_of([message]))
